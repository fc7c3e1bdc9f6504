"""Every bound on what hostmatch accepts, in one place.

Each figure is what a fellowship application could ever need, with room to spare; beyond it a value is a
mistake or an attack, and is refused with a message naming the field and the limit (the API answers 422,
or 400/413 for the body itself). Nothing is truncated or clipped silently: a record is stored whole or not
at all. The validators that apply these figures are in `models.profiles`, `models.durations`,
`models.text` and `service.schemas`; the request body checks in `service` and `matcher.json_depth`.
"""

from __future__ import annotations

import math

# -- request bodies and files --------------------------------------------------------------------------

MAX_BODY_BYTES = 1 << 20
"""Default size of a request body (1 MiB); larger bodies get 413. `HOSTMATCH_MAX_CONTENT_LENGTH` changes it."""
MAX_JSON_DEPTH = 64
"""Arrays and objects nested in one another in a JSON body or file. A profile needs 4; Python's parser
recurses once per level, so deeper documents are refused (400) before they are parsed."""

# -- identifiers and short texts ------------------------------------------------------------------------

MAX_ID_CHARS = 64
"""A host or researcher id: letters, digits and . _ : - ; compared and stored in lower case."""
MAX_NAME_CHARS = 300
"""A name, institution, place, keyword or co-author: one line."""
MAX_EMAIL_CHARS = 254
"""An e-mail address (the longest a mail server accepts, RFC 5321)."""
MAX_URL_CHARS = 2_000
"""A web address: what browsers and servers reliably accept."""
MAX_FILTER_CHARS = 300
"""A filter value in a match or directory request (programme, section, institution, prefecture, ...)."""
MAX_QUERY_CHARS = 200
"""A word search over the labs (`q`)."""
MAX_QUERY_WORDS = 10
"""Words in that search."""

# -- long texts ------------------------------------------------------------------------------------------

MAX_TEXT_CHARS = 20_000
"""A research statement, a lab description, a publication's title or abstract."""
MAX_PROFILE_CHARS = 200_000
"""The texts of one profile together (statement or description, every title and abstract): about 30 long
abstracts' worth beyond the statement, the most a match reads for one researcher."""

# -- lists in a profile ----------------------------------------------------------------------------------

MAX_PUBLICATIONS = 200
"""Publications of one researcher or lab (and read from one file): the most relevant papers, not a career."""
MAX_COAUTHORS = 500
"""Co-authors of one publication (large collaborations list more; give the ones that matter for conflicts)."""
MAX_KEYWORDS = 50
"""Keywords of one profile."""
MAX_SECTIONS = 20
"""KAKENHI medium sections of one profile (there are 65 in all)."""
MAX_LANGUAGES = 20
"""Languages of one profile."""
MAX_PROGRAMMES = 20
"""Programmes named by one profile (there are 7)."""

# -- numbers ---------------------------------------------------------------------------------------------

MAX_STAY_YEARS = 10
"""The longest stay, hosting window or programme tenure: no programme comes near it (the longest is 24 months)."""
MAX_STAY_DAYS = math.ceil(MAX_STAY_YEARS * 365.25)
"""The same in days (3,653), the unit lengths of stay are kept in."""
FIRST_YEAR = 1940
"""The earliest PhD year, expected PhD year or desired start year a profile may give."""
LAST_YEAR = 2100
"""The latest such year, and the latest publication year."""
FIRST_PUBLICATION_YEAR = 1900
"""The earliest publication year."""
MAX_CAPACITY = 1_000
"""Places a lab offers fellows."""
MAX_TOP = 100
"""Matches or candidates returned by one request (`top`)."""
MAX_PAGE = 500
"""Records in one page of a listing (`limit`)."""
MAX_OFFSET = 1_000_000
"""Where a page of a listing starts (`offset`)."""
MAX_WEIGHT = 1_000.0
"""A score component's weight in a match request (weights are normalised by their sum)."""
MAX_EXCLUDED = 1_000
"""Host ids one match request may leave out."""

# -- one request -----------------------------------------------------------------------------------------

MAX_RECORDS_PER_REQUEST = 2_000
"""Hosts or researchers written by one request."""
MAX_TEXTS_PER_REQUEST = 20_000
"""Texts (statements, descriptions, titles with their abstracts) written by one request: each is embedded."""
MAX_CHARS_PER_REQUEST = 4_000_000
"""Characters of those texts together. With the default 1 MiB body the body limit is reached first; this
bound holds when an operator raises it."""
