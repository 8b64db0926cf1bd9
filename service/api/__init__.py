"""The HTTP surface: thin routes (`routes`), the wire-to-judging translation (`translation`), the error
envelope (`errors`) and client-disconnect cancellation. The wire models themselves are `genrm_wire`."""
