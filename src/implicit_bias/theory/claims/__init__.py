"""The claims' predictions and checks, one module per family: ``classification`` (Section 4),
``regression`` (Section 5), ``observations`` (Section 6's figures, Remarks 1 and 3, Lemma 5.1).
They are declared, with their scope, premise and controls, in ``theory.registry``."""
