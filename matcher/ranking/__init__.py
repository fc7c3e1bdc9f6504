"""From similarities to a ranked, explained list: the score components, conflicts of interest, the aggregation of
document similarities per host, and the term statistics that explain a match."""
