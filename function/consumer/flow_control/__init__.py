"""Pure flow-control policy of the handler: no I/O, standard library only.

Imported by the handler (backoff, pacing) and by the simulator, so a change of policy here
changes what the simulation shows. The governor's rule, pure as well, is consumer.governor.law.
"""
