"""Texts as hostmatch reads them: the documents of a profile, their language, Japanese words, BibTeX
publications, and the folded word search over labs."""
