"""WhatsApp providers behind one interface (base.Provider), one module each, registered in settings.

The bottom layer: providers import no app, so restaurants (credential schemas), conversations (sending) and
webhooks (routing, verifying, parsing) all use them. See docs/providers.md.
"""
