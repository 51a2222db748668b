"""Fair dispatch across users (issue #11, item 2): who has queued work, and who was served when.

The decisions are pure (chalicelib/domain/fairness.py); this package keeps the little state they
need in the control table (:mod:`.store`).
"""
