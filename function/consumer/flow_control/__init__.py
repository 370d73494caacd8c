"""Pure flow-control policy: no I/O, standard library only.

Imported by the handler (backoff, pacing), by the governor (governor_law) and by the
simulator (all three), so a change of policy here changes what the simulation shows.
"""
