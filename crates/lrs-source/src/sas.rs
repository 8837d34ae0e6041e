//! SAS tokens: the rules LRS applies before a job may start, and redaction of signatures.
