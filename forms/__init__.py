"""WTForms classes: the single source of validation, used by live checks and by submits alike."""
