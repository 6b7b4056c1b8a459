"""Quality control: QC1 parameters from products, QC procedures, thresholds, scores and trends."""
