"""The matcher on records that a poor or careless catalogue sends (issue 18): missing years and authors,
volumes kept outside the main title, the statement of responsibility typed into the title, reprints
without years, short Vietnamese titles reworded. Built as the libraries would send them where the
normalizer is part of what a user sees (Dublin Core, MARCXML), as canonical records elsewhere."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from normalizer import normalize
from normalizer.dedup import DIFFERENT, DOUBTFUL, SAME, blocking_keys, cluster, compare
from normalizer.records import Author, CanonicalRecord, SourceContext

SET_ISBN = "9786040000017"  # one ISBN printed on every volume of a set


def rec(library: str, title: str, authors=("Nguyên Hồng",), **kw) -> CanonicalRecord:
    fields = dict(year=None, publisher=None, pages=None, languages=["vie"], material_type="book", format="marcxml")
    fields.update(kw)
    return CanonicalRecord(record_id=f"{library}:{title}", library=library, title=title, title_sort=title,
                           authors=[Author(name=a) for a in authors], **fields)


def dc(library: str, rid: str, **elements) -> CanonicalRecord:
    body = "".join(f"<dc:{name}>{value}</dc:{name}>" for name, values in elements.items()
                   for value in ([values] if isinstance(values, str) else values))
    xml = ('<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
           f'xmlns:dc="http://purl.org/dc/elements/1.1/">{body}</oai_dc:dc>')
    return normalize(xml.encode(), "oai_dc", SourceContext(library=library, record_id=rid))


def marc(library: str, rid: str, title_subfields: list[tuple[str, str]], *, author: str | None = None,
         series: tuple[str, str] | None = None) -> CanonicalRecord:
    subs = "".join(f'<subfield code="{c}">{v}</subfield>' for c, v in title_subfields)
    fields = f'<datafield tag="245" ind1="1" ind2="0">{subs}</datafield>'
    if author:
        fields = f'<datafield tag="100" ind1="0" ind2=" "><subfield code="a">{author}</subfield></datafield>' + fields
    if series:
        fields += ('<datafield tag="490" ind1="0" ind2=" ">'
                   f'<subfield code="a">{series[0]} ;</subfield><subfield code="v">{series[1]}</subfield></datafield>')
    xml = (f'<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500</leader>'
           f'<controlfield tag="008">200101s2015    vm            000 0 vie d</controlfield>{fields}</record>')
    return normalize(xml.encode(), "marcxml", SourceContext(library=library, record_id=rid))


# --------------------------------------------------------------------------- 1. missing data is neutral

def test_an_exact_title_and_its_author_are_enough_without_a_year():
    school = rec("thcs-a", "Những ngày thơ ấu")  # a school that never records years
    province = rec("tv-tinh", "Những ngày thơ ấu", year=2017, publisher="Nxb. Kim Đồng", pages=128)
    v = compare(school, province)
    assert v.decision == SAME, v.reasons
    # a title alone is not: nobody says who wrote either
    bare = compare(rec("a", "Những ngày thơ ấu", authors=()), rec("b", "Những ngày thơ ấu", authors=()))
    assert bare.decision != SAME
    # authors named by one record only take nothing away
    one_side = compare(rec("a", "Những ngày thơ ấu", authors=(), year=2017, pages=128, publisher="Kim Đồng"),
                       province)
    assert one_side.decision == SAME and "authors named in one record only (+0.0)" in one_side.reasons


def test_a_record_without_a_year_is_still_compared_when_its_title_is_reworded():
    """The year-free key from the first two title words + an author: a word dropped after them."""
    a = rec("a", "Tìm hiểu Luật Đất đai năm 2013", authors=("Nguyễn Hồng Nga",))
    b = rec("b", "Tìm hiểu Luật Đất đai 2013", authors=("Nguyễn, Hồng Nga",), year=2014)
    assert blocking_keys(a) & blocking_keys(b)


# --------------------------------------------------------------------------- 2. volumes

def test_two_volumes_of_one_work_are_never_merged_even_with_the_set_isbn():
    first = marc("tv-tinh", "1", [("a", "Lịch sử Việt Nam ."), ("n", "Tập 1")], author="Trần Trọng Kim")
    second = marc("tv-kim-son", "2", [("a", "Lịch sử Việt Nam."), ("n", "T.2")], author="Trần Trọng Kim")
    for a, b in ((first, second), (rec("a", "Lịch sử Việt Nam. Tập một", isbns=[SET_ISBN]),
                                    rec("b", "Lịch sử Việt Nam. Tập hai", isbns=[SET_ISBN])),
                 (rec("a", "History of Vietnam. Part II", languages=["eng"]),
                  rec("b", "History of Vietnam. Vol. 3", languages=["eng"]))):
        v = compare(a, b)
        assert v.decision == DIFFERENT and v.vetoed, v.reasons
        assert any("two parts of a multi-volume work" in r for r in v.reasons)
    copies = [first, second, rec("tv-yen-mo", "Lịch sử Việt Nam. Tập I", authors=("Trần Trọng Kim",)),
              rec("thpt-a", "Lịch sử Việt Nam. Tập hai", authors=("Trần Trọng Kim",))]
    assert cluster(copies) == [[0, 2], [1, 3]]  # one volume in its forms is one book


def test_a_volume_numbered_only_in_the_series_of_its_own_name_is_that_volume():
    """490 "Lịch sử Việt Nam ; T.1" on a record whose title leaves the volume out."""
    by_series = marc("tv-tinh", "1", [("a", "Lịch sử Việt Nam")], author="Trần Trọng Kim",
                     series=("Lịch sử Việt Nam", "T.1"))
    in_title = marc("tv-kim-son", "2", [("a", "Lịch sử Việt Nam ."), ("n", "Tập 2")], author="Trần Trọng Kim")
    assert compare(by_series, in_title).decision == DIFFERENT


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 20), st.integers(1, 20), st.sampled_from(["Tập {}", "T.{}", "Quyển {}", "Phần {}"]))
def test_any_two_volume_numbers_differ(n, m, form):
    a = rec("a", f"Tuyển tập Nam Cao. {form.format(n)}", isbns=[SET_ISBN])
    b = rec("b", f"Tuyển tập Nam Cao. {form.format(m)}", isbns=[SET_ISBN])
    assert (compare(a, b).decision == SAME) == (n == m)


# --------------------------------------------------------------------------- 3. responsibility in the title

def test_the_statement_of_responsibility_typed_into_the_title_is_cut_off_and_names_the_author():
    typed = dc("tv-yen-mo", "YM1", title="Bỉ vỏ : tiểu thuyết / Nguyên Hồng", date="2015",
               publisher="Nxb. Văn học", type="text", language="vie")
    assert typed.authors == []
    proper = marc("tv-tinh", "1", [("a", "Bỉ vỏ :"), ("b", "tiểu thuyết /"), ("c", "Nguyên Hồng.")],
                  author="Nguyên Hồng")
    v = compare(typed, proper)
    assert v.decision == SAME and any("authors agree" in r for r in v.reasons), v.reasons
    other = marc("tv-tinh", "2", [("a", "Bỉ vỏ :"), ("b", "tiểu thuyết")], author="Nam Cao")
    assert compare(typed, other).decision == DIFFERENT  # another writer's book of that name


# --------------------------------------------------------------------------- 4. reprints without years

def test_a_reprint_against_a_record_without_edition_or_year_is_doubtful():
    reprint = rec("tv-tinh", "Chú gấu học bay : truyện tranh", authors=("Trần Minh Hương",), year=2010,
                  edition="Tái bản lần thứ 3", pages=32)
    plain = rec("tv-yen-mo", "Chú gấu học bay : truyện tranh", authors=("Trần Minh Hương",), pages=32)
    v = compare(reprint, plain)
    assert v.decision == DOUBTFUL and any("later edition" in r for r in v.reasons), v.reasons


def test_dublin_core_carries_the_edition_in_its_description_or_title():
    described = dc("tv-yen-mo", "YM2", title="Chú gấu học bay", description="Tái bản lần thứ 3", type="text")
    assert described.edition == "Tái bản lần thứ 3"
    titled = dc("tv-yen-mo", "YM3", title="Database systems / Ullman. - 2nd ed.", type="text")
    assert titled.edition == "2nd ed." and titled.title.startswith("Database systems")
    abstract = dc("x", "1", title="A study", description="This paper revisits the second edition of ... " * 4)
    assert abstract.edition is None  # an abstract is not an edition statement


# --------------------------------------------------------------------------- 5. short Vietnamese titles

def test_a_short_title_with_a_word_dropped_is_the_same_book_when_the_author_agrees():
    a = rec("a", "Bé tập tô màu", authors=("Lê Kim Tâm",), year=1993, pages=40)
    b = rec("b", "Bé tập màu", authors=("Lê Kim Tâm",), year=1993, pages=40)
    assert compare(a, b).decision == SAME
    c = rec("c", "Bé tập màu", authors=("Trần Văn Bình",), year=1993, pages=40)
    assert compare(a, c).decision == DIFFERENT  # another author: the titles' difference stands
    d = rec("d", "Bé tập vẽ màu", authors=("Lê Kim Tâm",), year=1993, pages=40)
    assert compare(a, d).decision == DIFFERENT  # a word replaced is another book, whoever wrote it
