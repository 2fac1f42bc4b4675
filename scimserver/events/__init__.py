"""Inbound learning events, referral rules and the EAP referral lifecycle."""
