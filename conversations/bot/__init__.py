"""The ordering bot: a pure engine (engine.py), its words (texts.py) and its ears (parsing.py).

Nothing in this package touches Django's ORM or requests; conversations/replies.py drives it.
"""
