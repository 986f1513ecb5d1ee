"""Timeline: a ticket's events, the decision re-derived at each, the priority history and the SLA
clocks (events → derive → metrics → clocks → evaluator)."""
