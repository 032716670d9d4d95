"""signature_commitment: approved terms sent for e-signature and followed until signed, declined or expired.

``dag.py`` wires the story, by concern: ``token`` (the approval token checked before anything is sent),
``request`` (the signature request and the undos that void it), ``signed`` (after the signature: forward
only), ``unsigned`` (not signed: compensation, then the deal desk's choice), ``poller`` (the status poll
behind ``esign_status_poller_dag.py``), ``domain`` (tokens, notices, evidence packs: no Airflow).
"""

from __future__ import annotations
