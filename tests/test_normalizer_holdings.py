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


# --- every 852 is a holding; 876 only adds item detail (issue 17.6) --------------------------------

def holdings(record):
    return [(h.branch_code, h.call_number, h.barcode, h.status) for h in record.holdings]


def test_852_without_items_beside_852_with_items_is_still_a_holding():
    """39 of 424 locations were lost in a real export: an 852 with no 876 of its own disappeared as soon as
    the record had any 876. 876 $8 "2.1" is item 1 of the 852 whose $8 is 2 (MARC 21 holdings)."""
    record = normalize(marcxml(
        field("852", _8="1", b="TT", h="895.922", i="NG-D"),
        field("852", _8="2", b="XA", h="895.922", i="NG-D"),
        field("852", _8="3", b="BT"),
        field("876", _8="2.1", p="X01", j="Đang mượn"),
        field("876", _8="2.2", p="X02", j="Sẵn sàng")), "marcxml", CTX)
    assert holdings(record) == [("TT", "895.922 NG-D", None, "unknown"), ("XA", "895.922 NG-D", "X01", "on_loan"),
                                ("XA", "895.922 NG-D", "X02", "available"), ("BT", None, None, "unknown")]
    assert record.notes == []


def test_libol_852_j_is_the_call_number():
    """Libol writes the call number in 852 $j (shelving control number) and no $h/$i."""
    record = normalize(marcxml(field("852", a="TVT", b="KD", j="VV.012345"),
                               field("852", a="TVT", b="KM", h="895.922", j="M.0042")), "marcxml", CTX)
    assert [(h.branch_code, h.call_number) for h in record.holdings] == [("KD", "VV.012345"), ("KM", "895.922")]


def test_items_without_links_belong_to_the_852_before_them():
    """Exports that write each location followed by its items, with no $8."""
    record = normalize(marcxml(
        field("852", b="TT", j="A1"), field("876", p="T1"), field("876", p="T2"),
        field("852", b="XA", j="B1"),
        field("852", b="BT", j="C1"), field("876", p="B1", j="Mất")), "marcxml", CTX)
    assert holdings(record) == [("TT", "A1", "T1", "unknown"), ("TT", "A1", "T2", "unknown"),
                                ("XA", "B1", None, "unknown"), ("BT", "C1", "B1", "lost")]


def test_items_that_cannot_be_placed_are_kept_and_said():
    """Two locations, then two items with no $8: which item is where cannot be known; none is lost."""
    record = normalize(marcxml(field("852", b="TT"), field("852", b="XA"),
                               field("876", p="B1"), field("876", p="B2")), "marcxml", CTX)
    assert holdings(record) == [("TT", None, None, "unknown"), ("XA", None, None, "unknown"),
                                (None, None, "B1", "unknown"), (None, None, "B2", "unknown")]
    assert record.notes == ["2 item(s) (876) not linked to one of the 2 locations (852) by $8 or order: "
                            "shown without a branch"]


def test_real_record_keeps_its_second_location_when_the_first_gets_items():
    """RecordManager's marc2.xml (two 852 locations, 123 and 234) with an item added to one of them, by
    order and by $8 link: the other location stays."""
    from lxml import etree

    from tests.conftest import THIRD_PARTY
    ns = "{http://www.loc.gov/MARC21/slim}"
    source = (THIRD_PARTY / "recordmanager" / "marc2.xml").read_bytes()

    def with_item(after: int, link: str | None) -> bytes:
        root = etree.fromstring(source)
        locations = root.findall(f".//{ns}datafield[@tag='852']")
        item = etree.Element(f"{ns}datafield", tag="876", ind1=" ", ind2=" ")
        if link:
            etree.SubElement(locations[after], f"{ns}subfield", code="8").text = link
            etree.SubElement(item, f"{ns}subfield", code="8").text = link + ".1"
            root.find(f".//{ns}record").append(item)
        else:
            locations[after].addnext(item)
        etree.SubElement(item, f"{ns}subfield", code="p").text = "ITEM-1"
        return etree.tostring(root)

    assert holdings(normalize(source, "marcxml", CTX)) == [("123", "L 616.8 Kalat", None, "unknown"),
                                                           ("234", "Ll Course Kalat", None, "unknown")]
    by_order = normalize(with_item(0, None), "marcxml", CTX)
    assert holdings(by_order) == [("123", "L 616.8 Kalat", "ITEM-1", "unknown"),
                                  ("234", "Ll Course Kalat", None, "unknown")]
    by_link = normalize(with_item(1, "7"), "marcxml", CTX)
    assert holdings(by_link) == [("123", "L 616.8 Kalat", None, "unknown"),
                                 ("234", "Ll Course Kalat", "ITEM-1", "unknown")]
