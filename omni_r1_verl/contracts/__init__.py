"""The ground floor: contracts every subsystem speaks (imports nothing of omni_r1_verl outside this package).

* :mod:`~omni_r1_verl.contracts.rows`: the prepared-row schema (``GroundTruth``, ``MediaRef``, ``Task``) and the
  dataset-root path rule (``resolve_under_root``);
* :mod:`~omni_r1_verl.contracts.clip`: the sampled-clip record (``extra_info["clip"]``) and its time convention;
* :mod:`~omni_r1_verl.contracts.prompts`: the prompt templates of both systems;
* :mod:`~omni_r1_verl.contracts.system2`: the System-2 request / result pair, its one status enum and the
  ``extra_fields`` key the result travels under.

Stdlib only, so the pure layers (scoring, metrics, data) and the adapters (agent loop, reward manager, detail pool,
evaluators) can all import it cheaply.
"""
