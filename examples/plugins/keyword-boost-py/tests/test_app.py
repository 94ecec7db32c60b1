import unittest

from autbot_sdk import testing

from app import WitWorld, keywords


class KeywordBoostTest(unittest.TestCase):
    def setUp(self):
        self.host = testing.install()

    def test_keywords_drop_stop_words_and_duplicates(self):
        self.assertEqual(keywords("How does the index index BM25?"), ["bm25", "index"])

    def test_passages_with_the_question_words_move_up(self):
        self.host.set_config({"boost": 1.0})
        out = WitWorld().rank(
            testing.query("reciprocal rank fusion"),
            [
                testing.passage("a", "Nothing relevant here.", score=1.0),
                testing.passage("b", "Reciprocal rank fusion merges lists.", score=0.8),
            ],
        )
        self.assertEqual([r.id for r in out], ["b", "a"])
        self.assertAlmostEqual(out[0].score, 1.6)
        self.assertEqual(self.host.logs[-1][0], "debug")

    def test_a_bad_boost_is_logged_and_replaced(self):
        self.host.set_config({"boost": "lots"})
        WitWorld().rank(testing.query("fusion"), [testing.passage("a", "fusion")])
        self.assertEqual(self.host.logs[0][0], "warn")


if __name__ == "__main__":
    unittest.main()
