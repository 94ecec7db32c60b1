#!/usr/bin/env python3
"""The official `openai` Python package against AutBot's OpenAI-compatible endpoint.

Run by tests/e2e/openai_sdks.rs against a real server answering with a fake model;
runnable by hand against any AutBot server:

    tests/clients/python/.venv/bin/python tests/clients/python/check_openai.py \
        --base-url http://127.0.0.1:8080/v1 --api-key KEY [--expect-content TEXT]

(the venv comes from scripts/setup-test-deps.sh). Arguments default to the environment:
AUTBOT_BASE_URL, AUTBOT_API_KEY, AUTBOT_EXPECT_CONTENT.

Checks: the model list names `autbot`; a plain completion (content, finish_reason,
usage, id, the `autbot` extension with its sources); a streamed one with
`stream_options.include_usage` (the deltas add up to the plain answer, a "stop"
finish_reason, a last chunk with usage and no choices); and the errors the SDK raises:
a wrong key (AuthenticationError, 401), a question over the length limit
(UnprocessableEntityError, 422), unsupported parameters `n=2` and `tools`
(BadRequestError, 400).

Prints a JSON summary on stdout; exits 1 if any check failed (each failure is also
printed on stderr), 2 on bad usage.
"""

import argparse
import json
import os
import sys
import traceback

import openai
from openai import OpenAI

QUESTION = "How do I change the port the server listens on?"


class CheckFailed(Exception):
    pass


def expect(cond, message):
    if not cond:
        raise CheckFailed(message)


def extra(obj, name):
    """An extension field the SDK's types do not declare (kept in `model_extra`)."""
    return (obj.model_extra or {}).get(name)


def describe_error(e):
    """What the SDK raised, for the summary."""
    out = {"class": type(e).__name__}
    if isinstance(e, openai.APIStatusError):
        out.update(
            status=e.status_code,
            type=getattr(e, "type", None),
            code=getattr(e, "code", None),
            param=getattr(e, "param", None),
            message=e.message,
        )
    else:
        out["message"] = str(e)
    return out


class Checker:
    def __init__(self):
        self.results = []

    def run(self, name, fn):
        try:
            detail = fn()
            self.results.append({"name": name, "ok": True, "detail": detail})
            return detail
        except CheckFailed as e:
            self.results.append({"name": name, "ok": False, "error": str(e)})
        except Exception as e:  # an unexpected SDK error: report what it was
            self.results.append(
                {
                    "name": name,
                    "ok": False,
                    "error": f"unexpected {type(e).__name__}: {e}",
                    "raised": describe_error(e),
                    "traceback": traceback.format_exc(limit=3),
                }
            )
        return None


def expect_error(client_call, cls, status):
    """Runs `client_call`, which must raise exactly `cls` with `status`."""
    try:
        client_call()
    except openai.APIError as e:
        got = describe_error(e)
        expect(
            type(e) is cls,
            f"expected {cls.__name__} ({status}), the SDK raised {json.dumps(got)}",
        )
        expect(
            got.get("status") == status,
            f"expected status {status}: {json.dumps(got)}",
        )
        expect(
            isinstance(e.body, dict) and isinstance(e.body.get("message"), str),
            f"the error body is not OpenAI's {{error: {{message, type, param, code}}}}: {e.body!r}",
        )
        return got
    raise CheckFailed(f"expected {cls.__name__} ({status}), the call succeeded")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", default=os.environ.get("AUTBOT_BASE_URL"))
    ap.add_argument("--api-key", default=os.environ.get("AUTBOT_API_KEY"))
    ap.add_argument(
        "--expect-content",
        default=os.environ.get("AUTBOT_EXPECT_CONTENT"),
        help="the answer the model gives (default: any non-empty answer)",
    )
    ap.add_argument(
        "--too-long-chars",
        type=int,
        default=int(os.environ.get("AUTBOT_TOO_LONG_CHARS", "4000")),
        help="length of the question that must be refused (over server.max_query_chars)",
    )
    args = ap.parse_args()
    if not args.base_url or not args.api_key:
        ap.error("--base-url and --api-key (or AUTBOT_BASE_URL, AUTBOT_API_KEY) are required")

    # No retries: every status the server answers is seen as it is.
    client = OpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0, timeout=60)
    messages = [{"role": "user", "content": QUESTION}]
    c = Checker()

    def models():
        page = client.models.list()
        ids = [m.id for m in page.data]
        expect("autbot" in ids, f"models.list() ids {ids} do not include 'autbot'")
        return {"ids": ids}

    c.run("models.list", models)

    def plain():
        resp = client.chat.completions.create(model="autbot", messages=messages)
        expect(resp.id.startswith("chatcmpl-"), f"id {resp.id!r} does not start with chatcmpl-")
        expect(resp.object == "chat.completion", f"object {resp.object!r}")
        expect(resp.model == "autbot", f"model {resp.model!r}")
        expect(len(resp.choices) == 1, f"{len(resp.choices)} choices")
        choice = resp.choices[0]
        content = choice.message.content
        expect(choice.message.role == "assistant", f"role {choice.message.role!r}")
        expect(isinstance(content, str) and content, f"empty content: {content!r}")
        if args.expect_content is not None:
            expect(
                content == args.expect_content,
                f"content {content!r} is not the model's reply {args.expect_content!r}",
            )
        expect(choice.finish_reason == "stop", f"finish_reason {choice.finish_reason!r}")
        u = resp.usage
        expect(u is not None, "no usage")
        expect(
            u.total_tokens == u.prompt_tokens + u.completion_tokens and u.total_tokens > 0,
            f"usage {u.model_dump()}",
        )
        ext = extra(resp, "autbot")
        as_dict = resp.to_dict()
        expect(
            isinstance(ext, dict) and ext == as_dict.get("autbot"),
            f"no 'autbot' extension field: {json.dumps(as_dict)[:500]}",
        )
        sources = ext.get("sources")
        expect(isinstance(sources, list) and sources, f"autbot.sources missing or empty: {ext!r}")
        for s in sources:
            expect(
                isinstance(s, dict) and isinstance(s.get("source"), str),
                f"a source without 'source': {s!r}",
            )
        return {
            "id": resp.id,
            "content": content,
            "usage": u.model_dump(),
            "system_fingerprint": resp.system_fingerprint,
            "request_id": ext.get("request_id"),
            "sources": [s.get("source") for s in sources],
        }

    plain_result = c.run("chat.completions.create", plain)

    def streamed():
        stream = client.chat.completions.create(
            model="autbot",
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        expect(chunks, "no chunks")
        ids = {ch.id for ch in chunks}
        expect(len(ids) == 1, f"chunks carry different ids: {sorted(ids)}")
        expect(next(iter(ids)).startswith("chatcmpl-"), f"id {ids} does not start with chatcmpl-")
        objects = {ch.object for ch in chunks}
        expect(objects == {"chat.completion.chunk"}, f"objects {objects}")
        first = chunks[0]
        expect(
            first.choices and first.choices[0].delta.role == "assistant",
            f"the first chunk has no assistant role: {first.to_json()}",
        )
        ext = extra(first, "autbot")
        expect(
            isinstance(ext, dict) and isinstance(ext.get("sources"), list),
            f"the first chunk has no autbot.sources: {first.to_json()}",
        )
        pieces = []
        finish = []
        for ch in chunks:
            for choice in ch.choices:
                if choice.delta.content:
                    pieces.append(choice.delta.content)
                if choice.finish_reason is not None:
                    finish.append(choice.finish_reason)
        text = "".join(pieces)
        expect(finish == ["stop"], f"finish_reasons {finish}, expected one 'stop'")
        if plain_result is not None:
            expect(
                text == plain_result["content"],
                f"the streamed text {text!r} is not the plain answer {plain_result['content']!r}",
            )
        elif args.expect_content is not None:
            expect(
                text == args.expect_content,
                f"the streamed text {text!r} is not the model's reply {args.expect_content!r}",
            )
        last = chunks[-1]
        expect(last.choices == [], f"the last chunk has choices: {last.to_json()}")
        u = last.usage
        expect(u is not None, f"the last chunk has no usage: {last.to_json()}")
        expect(
            u.total_tokens == u.prompt_tokens + u.completion_tokens and u.total_tokens > 0,
            f"usage {u.model_dump()}",
        )
        expect(
            all(ch.usage is None for ch in chunks[:-1]),
            "usage on a chunk before the last",
        )
        return {"chunks": len(chunks), "content_deltas": len(pieces), "usage": u.model_dump()}

    c.run("chat.completions.create(stream=True)", streamed)

    bad_key = OpenAI(base_url=args.base_url, api_key="sk-wrong-key", max_retries=0, timeout=60)
    c.run(
        "a wrong API key",
        lambda: expect_error(
            lambda: bad_key.chat.completions.create(model="autbot", messages=messages),
            openai.AuthenticationError,
            401,
        ),
    )
    long_question = ("how " * (args.too_long_chars // 4 + 1)).strip()
    c.run(
        "a question over the length limit",
        lambda: expect_error(
            lambda: client.chat.completions.create(
                model="autbot", messages=[{"role": "user", "content": long_question}]
            ),
            openai.UnprocessableEntityError,
            422,
        ),
    )
    c.run(
        "unsupported n=2",
        lambda: expect_error(
            lambda: client.chat.completions.create(model="autbot", messages=messages, n=2),
            openai.BadRequestError,
            400,
        ),
    )
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_port",
                "description": "The port the server listens on",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ]
    c.run(
        "unsupported tools",
        lambda: expect_error(
            lambda: client.chat.completions.create(model="autbot", messages=messages, tools=tools),
            openai.BadRequestError,
            400,
        ),
    )

    failed = [r for r in c.results if not r["ok"]]
    summary = {
        "sdk": "openai (Python)",
        "version": openai.__version__,
        "python": sys.version.split()[0],
        "base_url": args.base_url,
        "ok": not failed,
        "checks": c.results,
    }
    print(json.dumps(summary, indent=2, default=str))
    for r in failed:
        print(f"FAILED: {r['name']}: {r['error']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
