"""The HTTP surface: wire models (`protocol`), thin routes (`routes`), error envelope (`errors`)."""
