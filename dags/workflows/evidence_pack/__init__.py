"""evidence_pack: the evidence of any workflow or deal, collected, canonicalised, hashed and stored.

``dag.py`` wires it; ``steps`` collects (the toolkit's records of the subject's workflows as of one moment),
seals (include.domain.evidence, the code signature_commitment seals its own pack with) and stores (the
manifest and its PDF by content hash, the pack's row keyed by its scope, so a rebuild is compared with it);
``domain`` says what a subject is and names its pack.
"""

from __future__ import annotations
