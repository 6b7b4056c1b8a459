"""Association Blocks: the model (:mod:`.model`) and the text format (:mod:`.format`)."""
