"""Association: classification, organisation into groups, and calibration matching into ABs."""
