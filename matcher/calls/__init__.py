"""A call: applicants scored against labs in one pass (`batch`), the global assignment (`assignment`), its inputs,
its report and files, and the progress a running call writes (`status`)."""
