"""People: accounts, public profiles, teams (collectives of makers) with roles and invitations, and personal
API tokens. Every other domain reads it; it depends on no domain but `core`.
"""
