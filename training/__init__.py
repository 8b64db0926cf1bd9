"""Training the judges and writing policies (TRL GRPO): PAR for the pointwise judge, GRPO for the pairwise
judge, BRPO for writing policies. Prompts and parsers come from `models.formats`, unchanged, so a checkpoint is
trained on exactly what the service sends and scored by exactly the parser the service uses."""
