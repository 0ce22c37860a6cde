"""Crowdfunding campaigns: tiers, add-ons, stretch goals, pledges and their all-or-nothing settlement."""
