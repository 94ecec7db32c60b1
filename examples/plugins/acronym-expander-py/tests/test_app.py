import unittest

from autbot_sdk import Err, testing

from app import WitWorld, expand

RAG = {"RAG": "retrieval-augmented generation"}


class AcronymExpanderTest(unittest.TestCase):
    def setUp(self):
        self.host = testing.install()

    def test_expands_whole_words_only(self):
        self.assertEqual(expand("How does RAG work?", RAG), "How does RAG (retrieval-augmented generation) work?")
        self.assertEqual(expand("DRAGON rag", RAG), "DRAGON rag")

    def test_the_hook_reads_its_table_from_config(self):
        self.host.set_config({"acronyms": RAG})
        q = WitWorld().preprocess(testing.query("What is RAG?", "req-1"))
        self.assertEqual(q.text, "What is RAG (retrieval-augmented generation)?")
        self.assertEqual(q.request_id, "req-1")

    def test_an_acronym_alone_is_refused(self):
        self.host.set_config({"acronyms": RAG})
        with self.assertRaises(Err) as e:
            WitWorld().preprocess(testing.query("RAG?"))
        self.assertEqual(e.exception.value.code, "acronym_only")


if __name__ == "__main__":
    unittest.main()
