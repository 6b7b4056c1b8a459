"""Job and execution files: the model (:mod:`.model`)."""
