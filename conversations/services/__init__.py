"""The conversations room's writes, one module per use case (as Zulip's zerver/actions):

inbound (store what a customer sends), outbound (queue a reply), delivery (send it, track its status),
handoff (bot or people, the bot's language) and staff (dashboard/admin actions).
"""
