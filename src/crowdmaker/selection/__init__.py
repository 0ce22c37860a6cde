"""Community selection (issue #6): open calls, submissions of design versions, members' votes and buy-intents,
and the ranking by a Bayesian average. Pages, API, referrals and promotion to campaigns come later."""
