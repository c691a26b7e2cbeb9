"""The ordering bot, the step that answers a stored inbound message.

The engine is pure Python (engine.py with its seams: types, session, intents, screens, builders, texts,
parsing, language): no ORM, no requests. The driver (services.py, with selectors.py for what the engine may
know) runs it against the database and carries out its actions through the orders and conversations services.
"""
