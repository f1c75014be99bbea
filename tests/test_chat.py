"""Tests for tagger.chat: NPS Chat's tags as Penn tags, and the posts left out."""

from conftest import needs_nltk
from tagger import data
from tagger.chat import penn_post

PENN_TAGS = data.PENN_TAGS | {"``", "''"}


def test_special_tags_map_to_penn_tags():
    post = [("it", "PRP"), ("'s", "BES"), ("got", "VBN"), ("'s", "HVS"), ("mornign", "^NN"),
            ("(", "("), ("hi", "UH"), (")", ")"), ('"', "''"), ("\\", "^."), ("*", "SYM")]
    assert penn_post(post) == [
        ("it", "PRP"), ("'s", "VBZ"), ("got", "VBN"), ("'s", "VBZ"), ("mornign", "NN"),
        ("(", "-LRB-"), ("hi", "UH"), (")", "-RRB-"), ('"', "''|``"), ("\\", "."), ("*", "SYM")]


def test_a_post_with_a_tag_penn_cannot_read_is_left_out():
    assert penn_post([("an", "DT"), ("ex", "GW"), ("con", "NN")]) is None
    assert penn_post([("n.n", "X")]) is None
    assert penn_post([("your", "^PRP^VBP"), ("gonna", "VBG")]) is None
    assert penn_post([("!", "")]) is None
    assert penn_post([("hi", "XYZ")]) is None


def test_join_and_part_events_are_left_out_and_actions_lose_their_prefix():
    assert penn_post([("JOIN", "VB")]) is None
    assert penn_post([("PART", "VB")]) is None
    assert penn_post([("JOIN", "VB"), ("us", "PRP")]) == [("JOIN", "VB"), ("us", "PRP")]
    action = [(".", "SYM"), ("ACTION", "NN"), ("sighs", "VBZ"), (".", ".")]
    assert penn_post(action) == [("sighs", "VBZ"), (".", ".")]


@needs_nltk("corpora/nps_chat")
def test_every_kept_post_is_tagged_in_penn_tags():
    from nltk.corpus import nps_chat

    posts = [penn_post(post) for post in nps_chat.tagged_posts()]
    kept = [post for post in posts if post is not None]
    assert len(kept) > len(posts) // 2
    assert {tag for post in kept for _, tags in post for tag in tags.split("|")} <= PENN_TAGS
