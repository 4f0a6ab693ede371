"""Holdings from every item format Vietnamese libraries export: Koha 952 and 995, MARC 852/876."""
from normalizer import normalize
from normalizer.records import SourceContext

CTX = SourceContext(library="tv-a", record_id="tv-a:1", branch_map={"TT": "Trụ sở chính", "XA": "Tủ sách xã"})


def marcxml(*fields: str) -> bytes:
    return ('<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500</leader>'
            '<controlfield tag="001">1</controlfield>'
            '<datafield tag="245" ind1="0" ind2="0"><subfield code="a">Truyện Kiều</subfield></datafield>'
            + "".join(fields) + "</record>").encode()


def field(tag: str, **subfields: str) -> str:
    inner = "".join(f'<subfield code="{code.lstrip("_")}">{value}</subfield>' for code, value in subfields.items())
    return f'<datafield tag="{tag}" ind1=" " ind2=" ">{inner}</datafield>'


def statuses(record):
    return [(h.branch, h.barcode, h.status, h.due_date) for h in record.holdings]


def test_unimarc_koha_995_items():
    record = normalize(marcxml(
        field("995", b="TT", c="TT", e="KHOMO", f="VV001", k="895.922 NG-D"),
        field("995", b="TT", c="XA", f="VV002", n="2026-12-01"),
        field("995", b="TT", f="VV003", o="1"),
        field("995", b="TT", f="VV004", _2="1"),
        field("995", b="TT", f="VV005", _0="1")), "marcxml", CTX)
    assert statuses(record) == [("Trụ sở chính", "VV001", "available", None),
                                ("Tủ sách xã", "VV002", "on_loan", "2026-12-01"),
                                ("Trụ sở chính", "VV003", "not_for_loan", None),
                                ("Trụ sở chính", "VV004", "lost", None),
                                ("Trụ sở chính", "VV005", "withdrawn", None)]
    assert record.holdings[0].location == "KHOMO" and record.holdings[0].call_number == "895.922 NG-D"


def test_852_with_876_items_gives_one_holding_per_item():
    record = normalize(marcxml(
        field("852", _8="1", b="TT", c="Kho mở", h="895.922", i="NG-D"),
        field("876", _8="1", p="B001", j="Sẵn sàng trên giá"),
        field("876", _8="1", p="B002", j="Đang mượn"),
        field("876", _8="1", p="B003", j="Thanh lý")), "marcxml", CTX)
    assert statuses(record) == [("Trụ sở chính", "B001", "available", None), ("Trụ sở chính", "B002", "on_loan", None),
                                ("Trụ sở chính", "B003", "withdrawn", None)]
    assert {h.call_number for h in record.holdings} == {"895.922 NG-D"}


def test_852_alone_is_a_location_with_unknown_status():
    record = normalize(marcxml(field("852", a="Thư viện trường", h="895.922")), "marcxml", CTX)
    assert statuses(record) == [("Thư viện trường", None, "unknown", None)]
