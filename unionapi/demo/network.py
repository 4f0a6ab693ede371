"""Synthetic but realistic catalogues of the Sơn Nam provincial library network.

The same books are held by several libraries and every library catalogues them a little
differently (NFD text, ISBN forms, "Nxb." or not, "Nguyễn, Du", subtitles, old-style tone marks,
MARC21 from Koha or home-made Dublin Core), because that is what the union catalogue has to cope
with. Everything comes from one seeded ``random.Random``: same seed, byte-identical output.

    python -m unionapi.demo.network --out DIR     # writes DIR/<library id>.jsonl
"""
from __future__ import annotations

import argparse
import json
import os
import re
import random
import tempfile
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

DEMO_SEED = 20261123
MARC_NS = "http://www.loc.gov/MARC21/slim"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"

DEMO_LIBRARIES = [
    {"id": "tv-tinh", "name": "Thư viện tỉnh Sơn Nam", "kind": "provincial", "parent": None,
     "system": "koha", "protocol": "oai", "formats": ["marc21", "oai_dc"], "share": 0.47,
     "repository": "tv-tinh.sonnam.vn", "sets": ["sach", "thieunhi"],
     "branch_map": {"TRUNGTAM": "Trụ sở chính", "THIEUNHI": "Phòng đọc Thiếu nhi",
                    "LUUDONG": "Thư viện lưu động"}},
    {"id": "tv-kim-son", "name": "Thư viện huyện Kim Sơn", "kind": "district", "parent": "tv-tinh",
     "system": "koha", "protocol": "oai", "formats": ["marc21", "oai_dc"], "share": 0.17,
     "repository": "tv-kim-son.sonnam.vn", "sets": ["sach", "thieunhi"],
     "branch_map": {"KIMSON": "Thư viện huyện Kim Sơn", "KS-XA": "Tủ sách xã Kim Đông"}},
    {"id": "tv-yen-mo", "name": "Thư viện huyện Yên Mô", "kind": "district", "parent": "tv-tinh",
     "system": "other", "protocol": "oai", "formats": ["oai_dc"], "share": 0.13,
     "repository": "tv-yen-mo.sonnam.vn", "sets": [], "branch_map": {}},
    {"id": "thpt-lvt", "name": "Thư viện Trường THPT Lương Văn Tụy", "kind": "school",
     "parent": "tv-tinh", "system": "other", "protocol": "oai", "formats": ["oai_dc"], "share": 0.08,
     "repository": "thpt-lvt.sonnam.edu.vn", "sets": ["thamkhao", "vanhoc"], "branch_map": {}},
    # Koha with OAI-PMH switched off: harvested over Z39.50 from its Zebra (database "biblios")
    {"id": "tv-hoa-lu", "name": "Thư viện huyện Hoa Lư", "kind": "district", "parent": "tv-tinh",
     "system": "koha", "protocol": "z3950", "formats": ["marc21"], "share": 0.10,
     "repository": "tv-hoa-lu.sonnam.vn", "sets": [],
     "branch_map": {"HOALU": "Thư viện huyện Hoa Lư", "HL-XA": "Tủ sách xã Ninh Hải"}},
    # Libol: no server at all; the school drops a MARC export (ISO2709) into a folder
    {"id": "thcs-ths", "name": "Thư viện Trường THCS Trương Hán Siêu", "kind": "school",
     "parent": "tv-hoa-lu", "system": "libol", "protocol": "file", "formats": ["marc21"], "share": 0.05,
     "repository": "thcs-ths.sonnam.edu.vn", "sets": [], "branch_map": {}},
]
LIBRARY_BY_ID = {lib["id"]: lib for lib in DEMO_LIBRARIES}
SET_NAMES = {"sach": "Sách", "thieunhi": "Sách thiếu nhi", "thamkhao": "Sách tham khảo",
             "vanhoc": "Văn học"}
# Koha shelving locations (952 $c) and item types (952 $y) used by the two Koha libraries.
KOHA_LOCATIONS = {"KHOMO": "Kho mở", "KHODOC": "Kho đọc", "KHOMUON": "Kho mượn",
                  "TRA CUU": "Kho tra cứu"}
KOHA_ITEM_TYPES = {"SACH": "Sách", "STN": "Sách thiếu nhi", "TKHAO": "Sách tra cứu"}


@dataclass
class ProviderRecord:
    identifier: str
    datestamp: str
    deleted: bool
    sets: list[str]
    metadata: dict[str, str]  # metadataPrefix -> XML of the payload element


# --------------------------------------------------------------------------- word lists
# key: (full name, short name, place, ISBN registrant under 978-604)
PUBLISHERS = {
    "kimdong": ("Nxb. Kim Đồng", "Kim Đồng", "Hà Nội", "2"),
    "tre": ("Nxb. Trẻ", "Trẻ", "Thành phố Hồ Chí Minh", "1"),
    "giaoduc": ("Nxb. Giáo dục Việt Nam", "Giáo dục Việt Nam", "Hà Nội", "0"),
    "vanhoc": ("Nxb. Văn học", "Văn học", "Hà Nội", "69"),
    "hnv": ("Nxb. Hội Nhà văn", "Hội Nhà văn", "Hà Nội", "53"),
    "ctqg": ("Nxb. Chính trị quốc gia Sự thật", "Chính trị quốc gia Sự thật", "Hà Nội", "57"),
    "tonghop": ("Nxb. Tổng hợp Thành phố Hồ Chí Minh", "Tổng hợp Thành phố Hồ Chí Minh",
                "Thành phố Hồ Chí Minh", "58"),
    "phunu": ("Nxb. Phụ nữ Việt Nam", "Phụ nữ Việt Nam", "Hà Nội", "56"),
    "thanhnien": ("Nxb. Thanh niên", "Thanh niên", "Hà Nội", "64"),
    "laodong": ("Nxb. Lao động", "Lao động", "Hà Nội", "59"),
    "khxh": ("Nxb. Khoa học xã hội", "Khoa học xã hội", "Hà Nội", "90"),
    "nongnghiep": ("Nxb. Nông nghiệp", "Nông nghiệp", "Hà Nội", "60"),
    "yhoc": ("Nxb. Y học", "Y học", "Hà Nội", "66"),
    "dhqg": ("Nxb. Đại học Quốc gia Hà Nội", "Đại học Quốc gia Hà Nội", "Hà Nội", "62"),
    "danang": ("Nxb. Đà Nẵng", "Đà Nẵng", "Đà Nẵng", "84"),
    "thuanhoa": ("Nxb. Thuận Hóa", "Thuận Hóa", "Huế", "943"),
}

SURNAMES = ["Nguyễn"] * 8 + ["Trần"] * 3 + ["Lê"] * 3 + [
    "Phạm", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
    "Dương", "Lý", "Đinh", "Đoàn", "Trịnh", "Lương", "Mai", "Tô", "Hà", "Cao", "Lâm", "Tạ"]
MIDDLE_M = ["Văn", "Văn", "Hữu", "Đức", "Minh", "Quang", "Xuân", "Công", "Đình", "Bá", "Anh",
            "Thanh", "Ngọc", "Trọng", "Tiến"]
MIDDLE_F = ["Thị", "Thị", "Thị", "Ngọc", "Thu", "Kim", "Hồng", "Thanh", "Minh", "Bích", "Diệu"]
GIVEN_M = ["An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Khang", "Long", "Minh", "Nam", "Phong",
           "Phúc", "Quân", "Sơn", "Thắng", "Trung", "Tuấn", "Việt", "Đạt", "Giang", "Khoa",
           "Lộc", "Quý", "Tùng", "Hòa", "Thủy", "Toàn", "Hiếu", "Thành", "Kiên"]
GIVEN_F = ["Hà", "Hạnh", "Hiền", "Hương", "Lan", "Linh", "Mai", "Nga", "Ngọc", "Phương", "Thảo",
           "Thủy", "Trang", "Yến", "Huệ", "Nhung", "Oanh", "Vân", "Xuân", "Hòa", "Loan", "Tâm"]

# (title, subtitle, author, publisher, year, category, ddc, pages, literary form)
CLASSICS = [
    ("Truyện Kiều", None, "Nguyễn Du", "vanhoc", 2015, "vh", "895.92211", 240, "p"),
    ("Dế Mèn phiêu lưu ký", "truyện dài", "Tô Hoài", "kimdong", 2019, "tn", "895.92234", 152, "f"),
    ("Số đỏ", "tiểu thuyết", "Vũ Trọng Phụng", "vanhoc", 2016, "vh", "895.92233", 260, "f"),
    ("Tắt đèn", "tiểu thuyết", "Ngô Tất Tố", "vanhoc", 2015, "vh", "895.92233", 216, "f"),
    ("Chí Phèo", "tập truyện ngắn", "Nam Cao", "vanhoc", 2017, "vh", "895.92233", 320, "j"),
    ("Nỗi buồn chiến tranh", "tiểu thuyết", "Bảo Ninh", "tre", 2011, "vh", "895.92234", 320, "f"),
    ("Cho tôi xin một vé đi tuổi thơ", "truyện", "Nguyễn Nhật Ánh", "tre", 2018, "tn",
     "895.92234", 216, "f"),
    ("Mắt biếc", "truyện dài", "Nguyễn Nhật Ánh", "tre", 2019, "vh", "895.92234", 300, "f"),
    ("Tôi thấy hoa vàng trên cỏ xanh", "truyện", "Nguyễn Nhật Ánh", "tre", 2018, "tn",
     "895.92234", 380, "f"),
    ("Đất rừng phương Nam", "truyện dài", "Đoàn Giỏi", "kimdong", 2017, "tn", "895.92234", 300,
     "f"),
    ("Vang bóng một thời", "tập truyện", "Nguyễn Tuân", "vanhoc", 2014, "vh", "895.92233", 232,
     "j"),
    ("Gió lạnh đầu mùa", "tập truyện ngắn", "Thạch Lam", "vanhoc", 2016, "vh", "895.92233", 184,
     "j"),
    ("Nhật ký trong tù", None, "Hồ Chí Minh", "ctqg", 2018, "vh", "895.92213", 196, "p"),
    ("Lục Vân Tiên", "truyện thơ", "Nguyễn Đình Chiểu", "vanhoc", 2013, "vh", "895.92212", 180,
     "p"),
    ("Thơ Xuân Diệu", None, "Xuân Diệu", "vanhoc", 2012, "vh", "895.92213", 276, "p"),
    ("Bỉ vỏ", "tiểu thuyết", "Nguyên Hồng", "vanhoc", 2014, "vh", "895.92233", 292, "f"),
    ("Những ngày thơ ấu", "hồi ký", "Nguyên Hồng", "kimdong", 2017, "vh", "895.92283", 128,
     "e"),
    ("Tuổi thơ dữ dội", "tiểu thuyết", "Phùng Quán", "kimdong", 2018, "tn", "895.92234", 820,
     "f"),
    ("Vợ nhặt", "tập truyện ngắn", "Kim Lân", "vanhoc", 2016, "vh", "895.92234", 204, "j"),
    ("Đất nước đứng lên", None, "Nguyên Ngọc", "kimdong", 2015, "vh", "895.92234", 176, "f"),
    ("Hòn Đất", "tiểu thuyết", "Anh Đức", "vanhoc", 2014, "vh", "895.92234", 396, "f"),
    ("Dấu chân người lính", "tiểu thuyết", "Nguyễn Minh Châu", "vanhoc", 2015, "vh",
     "895.92234", 452, "f"),
    ("Mùa lá rụng trong vườn", "tiểu thuyết", "Ma Văn Kháng", "hnv", 2016, "vh", "895.92234",
     340, "f"),
    ("Thời xa vắng", "tiểu thuyết", "Lê Lựu", "hnv", 2017, "vh", "895.92234", 420, "f"),
    ("Bến không chồng", "tiểu thuyết", "Dương Hướng", "hnv", 2016, "vh", "895.92234", 372, "f"),
    ("Tướng về hưu", "tập truyện ngắn", "Nguyễn Huy Thiệp", "vanhoc", 2015, "vh", "895.92234",
     310, "j"),
    ("Quê nội", "truyện dài", "Võ Quảng", "kimdong", 2016, "tn", "895.92234", 248, "f"),
    ("Đội thiếu niên du kích Đình Bảng", None, "Xuân Sách", "kimdong", 2014, "tn", "895.92234",
     156, "f"),
    ("Kính vạn hoa", "truyện dài", "Nguyễn Nhật Ánh", "kimdong", 2020, "tn", "895.92234", 200,
     "f"),
    ("Cánh đồng bất tận", "tập truyện", "Nguyễn Ngọc Tư", "tre", 2012, "vh", "895.92234", 216,
     "j"),
    ("Nhật ký Đặng Thùy Trâm", None, "Đặng Thùy Trâm", "hnv", 2012, "vh", "895.92283", 300,
     "e"),
    ("Mãi mãi tuổi hai mươi", "nhật ký", "Nguyễn Văn Thạc", "thanhnien", 2011, "vh",
     "895.92283", 296, "e"),
    ("Việt Nam sử lược", None, "Trần Trọng Kim", "vanhoc", 2016, "ls", "959.7", 640, "0"),
    ("Đường Kách mệnh", None, "Hồ Chí Minh", "ctqg", 2015, "hcm", "335.4346", 92, "0"),
    ("Chinh phụ ngâm", None, "Đặng Trần Côn", "vanhoc", 2013, "vh", "895.92211", 120, "p"),
    ("Thơ Hồ Xuân Hương", None, "Hồ Xuân Hương", "vanhoc", 2014, "vh", "895.92211", 168, "p"),
    ("Người mẹ cầm súng", "truyện ký", "Nguyễn Thi", "vanhoc", 2013, "vh", "895.92234", 140,
     "f"),
    ("Sống mòn", "tiểu thuyết", "Nam Cao", "vanhoc", 2016, "vh", "895.92233", 284, "f"),
    ("Giông tố", "tiểu thuyết", "Vũ Trọng Phụng", "vanhoc", 2015, "vh", "895.92233", 420, "f"),
    ("Hà Nội băm sáu phố phường", "bút ký", "Thạch Lam", "vanhoc", 2014, "vh", "895.92283", 124,
     "e"),
    ("Đoạn tuyệt", "tiểu thuyết", "Nhất Linh", "vanhoc", 2015, "vh", "895.92233", 236, "f"),
    ("Từ ấy", "thơ", "Tố Hữu", "vanhoc", 2012, "vh", "895.92214", 168, "p"),
    ("Ngồi khóc trên cây", "truyện dài", "Nguyễn Nhật Ánh", "tre", 2013, "vh", "895.92234", 356,
     "f"),
]
# (title, subtitle, (heading, natural order), translator, original title, lang, publisher,
#  year, category, ddc, pages)
TRANSLATED = [
    ("Những người khốn khổ", "tiểu thuyết", ("Hugo, Victor", "Victor Hugo"), "Huỳnh Lý",
     "Les Misérables", "fre", "vanhoc", 2016, "dich", "843.8", 1240),
    ("Hoàng tử bé", None, ("Saint-Exupéry, Antoine de", "Antoine de Saint-Exupéry"),
     "Trác Phong", "Le Petit Prince", "fre", "hnv", 2019, "dich", "843.912", 104),
    ("Chiến tranh và hòa bình", "tiểu thuyết", ("Tolstoy, Lev", "Lev Tolstoy"), "Cao Xuân Hạo",
     "Война и мир", "rus", "vanhoc", 2014, "dich", "891.733", 1600),
    ("Thép đã tôi thế đấy!", "tiểu thuyết", ("Ostrovsky, Nikolai", "Nikolai Ostrovsky"),
     "Thép Mới", "Как закалялась сталь", "rus", "vanhoc", 2015, "dich", "891.7342", 520),
    ("Ba chàng lính ngự lâm", "tiểu thuyết", ("Dumas, Alexandre", "Alexandre Dumas"),
     "Anh Vũ", "Les Trois Mousquetaires", "fre", "vanhoc", 2013, "dich", "843.7", 860),
    ("Những cuộc phiêu lưu của Tom Sawyer", None, ("Twain, Mark", "Mark Twain"), "Xuân Oanh",
     "The Adventures of Tom Sawyer", "eng", "kimdong", 2017, "dich", "813.4", 320),
    ("Hai vạn dặm dưới đáy biển", "tiểu thuyết", ("Verne, Jules", "Jules Verne"), "Đỗ Ca Sơn",
     "Vingt mille lieues sous les mers", "fre", "kimdong", 2018, "dich", "843.8", 480),
    ("Truyện cổ Andersen", None, ("Andersen, H. C.", "H. C. Andersen"), "Nguyễn Văn Hải",
     "Eventyr", "dan", "kimdong", 2016, "dich", "839.8136", 360),
    ("Truyện cổ Grimm", None, ("Grimm, Jacob", "Jacob Grimm"), "Lương Văn Hồng",
     "Kinder- und Hausmärchen", "ger", "kimdong", 2015, "dich", "398.20943", 420),
    ("Ông già và biển cả", None, ("Hemingway, Ernest", "Ernest Hemingway"), "Lê Huy Bắc",
     "The Old Man and the Sea", "eng", "vanhoc", 2018, "dich", "813.52", 140),
    ("Nhà giả kim", None, ("Coelho, Paulo", "Paulo Coelho"), "Lê Chu Cầu", "O Alquimista",
     "por", "hnv", 2020, "dich", "869.342", 228),
    ("Đắc nhân tâm", None, ("Carnegie, Dale", "Dale Carnegie"), "Nguyễn Văn Phước",
     "How to Win Friends and Influence People", "eng", "tonghop", 2019, "dich", "158.2", 320),
    ("Harry Potter và hòn đá phù thủy", None, ("Rowling, J. K.", "J. K. Rowling"), "Lý Lan",
     "Harry Potter and the Philosopher's Stone", "eng", "tre", 2017, "dich", "823.914", 366),
    ("Những tấm lòng cao cả", None, ("De Amicis, Edmondo", "Edmondo De Amicis"),
     "Hoàng Thiếu Sơn", "Cuore", "ita", "kimdong", 2016, "dich", "853.8", 300),
    ("Không gia đình", "tiểu thuyết", ("Malot, Hector", "Hector Malot"), "Huỳnh Lý",
     "Sans famille", "fre", "vanhoc", 2015, "dich", "843.8", 700),
    ("Totto-chan bên cửa sổ", None, ("Kuroyanagi, Tetsuko", "Tetsuko Kuroyanagi"),
     "Trương Thùy Lan", "窓ぎわのトットちゃん", "jpn", "hnv", 2019, "dich", "895.635", 292),
    ("Túp lều bác Tôm", "tiểu thuyết", ("Stowe, Harriet Beecher", "Harriet Beecher Stowe"),
     "Đỗ Đức Hiểu", "Uncle Tom's Cabin", "eng", "vanhoc", 2014, "dich", "813.3", 640),
    ("Bố già", "tiểu thuyết", ("Puzo, Mario", "Mario Puzo"), "Ngọc Thứ Lang", "The Godfather",
     "eng", "vanhoc", 2018, "dich", "813.54", 620),
]
# English-language books (filing indicator matters): (title, subtitle, (heading, natural),
# publisher, place, year, ISBN group+registrant, ddc, pages, MARC country)
ENGLISH = [
    ("The sorrow of war", "a novel of North Vietnam", ("Bảo Ninh", "Bảo Ninh"), "Vintage",
     "London", 1998, "978-0-09", "895.92234", 233, "enk"),
    ("The tale of Kiều", None, ("Nguyễn Du", "Nguyễn Du"), "Yale University Press",
     "New Haven", 1987, "978-0-300", "895.92211", 220, "ctu"),
    ("The sympathizer", None, ("Nguyen, Viet Thanh", "Viet Thanh Nguyen"), "Grove Press",
     "New York", 2015, "978-0-8021", "813.6", 371, "nyu"),
    ("A history of the Vietnamese", None, ("Taylor, K. W.", "K. W. Taylor"),
     "Cambridge University Press", "Cambridge", 2013, "978-0-521", "959.7", 698, "enk"),
    ("An introduction to Vietnamese culture", None, ("Trần, Ngọc Thêm", "Trần Ngọc Thêm"),
     "The Gioi Publishers", "Hanoi", 2008, "978-604-77", "306.09597", 212, "vm "),
    ("The little prince", None, ("Saint-Exupéry, Antoine de", "Antoine de Saint-Exupéry"),
     "Harcourt", "San Diego", 2000, "978-0-15", "843.912", 83, "cau"),
    ("Vietnam", "a history", ("Karnow, Stanley", "Stanley Karnow"), "Penguin Books",
     "New York", 1997, "978-0-14", "959.7043", 768, "nyu"),
    ("The quiet American", None, ("Greene, Graham", "Graham Greene"), "Penguin Books",
     "London", 2004, "978-0-14", "823.912", 180, "enk"),
]
# Titles that fold to the same ASCII but are different books (dedup traps).
NEAR_TWINS = [
    ("Chuyện con dế", "truyện tranh", "tn", "kimdong", "895.92234"),
    ("Chuyện con dê", "truyện tranh", "tn", "tre", "895.92234"),
    ("Lá thư", "tập truyện ngắn", "vh", "hnv", "895.92234"),
    ("Lá thu", "tập thơ", "vh", "vanhoc", "895.92214"),
    ("Bến đò", "tiểu thuyết", "vh", "phunu", "895.92234"),
    ("Bến đỏ", "tiểu thuyết", "vh", "thanhnien", "895.92234"),
]

CROPS = [("lúa", "633.18"), ("ngô", "633.15"), ("sắn", "633.68"), ("khoai lang", "635.22"),
         ("lạc", "633.368"), ("đậu tương", "633.34"), ("cà phê", "633.73"), ("hồ tiêu", "633.84"),
         ("chè", "633.72"), ("cao su", "633.8952"), ("điều", "634.573"), ("thanh long", "634.775"),
         ("bưởi", "634.31"), ("cam", "634.31"), ("vải thiều", "634.6"), ("nhãn", "634.6"),
         ("xoài", "634.44"), ("chuối", "634.772"), ("dưa hấu", "635.615"),
         ("rau an toàn", "635"), ("nấm rơm", "635.8"), ("nấm sò", "635.8"),
         ("hoa lan", "635.9344"), ("hoa cúc", "635.93399"), ("cây ăn quả", "634"),
         ("mía", "633.61"), ("dừa", "634.61")]
ANIMALS = [("lợn", "636.4"), ("gà thả vườn", "636.5"), ("vịt", "636.597"), ("bò thịt", "636.2"),
           ("bò sữa", "636.2142"), ("dê", "636.39"), ("trâu", "636.293"), ("cá rô phi", "639.3"),
           ("cá trắm cỏ", "639.3"), ("tôm càng xanh", "639.6"), ("ong mật", "638.1"),
           ("ba ba", "639.39"), ("ếch", "639.378"), ("lươn", "639.3"), ("thỏ", "636.932"),
           ("chim bồ câu", "636.596")]
PERIODS = ["Hùng Vương dựng nước", "Bắc thuộc", "Lý – Trần", "Lê sơ", "Tây Sơn",
           "nhà Nguyễn", "kháng chiến chống Pháp (1945–1954)",
           "kháng chiến chống Mỹ (1954–1975)", "đổi mới (1986–2006)"]
PROVINCES = ["Ninh Bình", "Nam Định", "Thanh Hóa", "Hà Nam", "Thái Bình", "Nghệ An",
             "Quảng Ninh", "Hải Phòng", "Thừa Thiên Huế", "Quảng Nam", "Cần Thơ", "Đồng Tháp",
             "Lạng Sơn", "Cao Bằng", "Điện Biên", "Sơn Nam", "Hà Tĩnh", "Bắc Ninh"]
DISTRICTS = ["Kim Sơn", "Yên Mô", "Yên Khánh", "Hoa Lư", "Gia Viễn", "Nho Quan", "Tam Điệp",
             "Ý Yên", "Nghĩa Hưng", "Hải Hậu"]
COURSES = [("Triết học Mác - Lênin", "335.411"), ("Kinh tế chính trị Mác - Lênin", "335.412"),
           ("Tâm lý học đại cương", "150"), ("Tin học đại cương", "004"),
           ("Toán cao cấp", "510"), ("Xác suất thống kê", "519.2"),
           ("Kế toán tài chính", "657.48"), ("Quản trị học", "658"),
           ("Luật dân sự Việt Nam", "346.597"), ("Tiếng Việt thực hành", "495.9228"),
           ("Cơ sở văn hóa Việt Nam", "306.09597"), ("Thư viện học đại cương", "020"),
           ("Vật lý đại cương", "530"), ("Hóa học hữu cơ", "547"), ("Sinh học tế bào", "571.6"),
           ("Marketing căn bản", "658.8"), ("Nguyên lý kế toán", "657"),
           ("Lịch sử Đảng Cộng sản Việt Nam", "324.2597075"),
           ("Tư tưởng Hồ Chí Minh", "335.4346"), ("Mạng máy tính", "004.6"),
           ("Cơ sở dữ liệu", "005.74"), ("Lập trình C", "005.133")]
SCHOOL_SUBJECTS = [("Toán", "510.76"), ("Ngữ văn", "807.6"), ("Tiếng Anh", "428.0076"),
                   ("Vật lí", "530.076"), ("Hóa học", "540.76"), ("Sinh học", "570.76"),
                   ("Lịch sử", "959.70076"), ("Địa lí", "915.970076")]
TALES = ["Tấm Cám", "Thạch Sanh", "Sọ Dừa", "Cây tre trăm đốt", "Sự tích Hồ Gươm",
         "Thánh Gióng", "Sơn Tinh, Thủy Tinh", "Sự tích trầu cau", "Ăn khế trả vàng",
         "Chử Đồng Tử", "Sự tích dưa hấu", "Con Rồng cháu Tiên", "Cóc kiện trời",
         "Sự tích chú Cuội cung trăng", "Bánh chưng, bánh giầy", "Sự tích cây vú sữa",
         "Mị Châu – Trọng Thủy", "Sự tích con muỗi"]
CRITTERS = ["mèo", "thỏ", "gấu", "sóc", "voi", "cún", "ếch", "nhím", "vịt", "khỉ", "chuột"]
CRITTER_PHRASES = ["đi lạc", "tinh khôn", "tốt bụng", "và những người bạn", "học bay",
                   "đi học", "biết nhận lỗi", "dũng cảm", "ham chơi", "muốn làm người lớn"]
LAWS = ["Luật Đất đai", "Luật Hôn nhân và gia đình", "Luật Giao thông đường bộ",
        "Bộ luật Lao động", "Luật Phòng, chống bạo lực gia đình", "Luật Trẻ em",
        "Luật Bảo vệ môi trường", "Luật Bảo hiểm xã hội", "Luật Cư trú",
        "Luật Phòng, chống ma túy", "Luật Hòa giải ở cơ sở"]
DISEASES = ["sốt xuất huyết", "tiểu đường", "cao huyết áp", "tay chân miệng", "lao phổi",
            "ung thư", "viêm gan B", "sốt rét"]
CARE_GROUPS = ["người cao tuổi", "bà mẹ và trẻ em", "trẻ em dưới 6 tuổi", "phụ nữ mang thai",
               "học sinh", "gia đình"]
NOVEL_HEADS = ["Mùa", "Dòng sông", "Bến", "Làng", "Ngọn đèn", "Cánh đồng", "Con đường",
               "Ngôi nhà", "Khúc hát", "Chuyến tàu", "Giấc mơ", "Mảnh đất", "Bóng", "Tiếng chim",
               "Ánh trăng", "Người", "Câu chuyện", "Chiều", "Gió", "Biển", "Núi", "Phố"]
NOVEL_TAILS = ["hoa gạo", "quê", "mùa thu", "tuổi thơ", "bên sông", "không tên", "lặng lẽ",
               "cuối cùng", "xa xôi", "ngày cũ", "ký ức", "màu xanh", "trên núi", "phía trước",
               "tháng Chạp", "của mẹ", "hạnh phúc", "biển gọi", "lúa chín", "đầu đông",
               "Sài Gòn", "Hà Nội", "mưa bụi", "gió bấc", "ven đô", "miền Tây", "vùng cao",
               "thời bao cấp", "đỏ lửa", "trắng"]
POEM_THEMES = ["về mẹ", "về người lính", "tình yêu", "quê hương", "biển đảo", "mùa xuân",
               "thầy cô và mái trường", "Hà Nội"]
SERIES = {"vh": ["Tủ sách Văn học trong nhà trường", "Văn học Việt Nam hiện đại",
                 "Tác phẩm văn học được giải thưởng Nhà nước"],
          "tn": ["Tủ sách Tuổi thơ", "Truyện cổ tích Việt Nam", "Tủ sách Vàng"],
          "nn": ["Tủ sách Khuyến nông phục vụ người lao động", "Sách phục vụ nông thôn"],
          "pl": ["Tủ sách Pháp luật", "Phổ biến, giáo dục pháp luật"],
          "tk": ["Luyện thi THPT quốc gia"], "dich": ["Văn học nước ngoài"]}
LIT_SUBJECTS = {"f": ["Văn học Việt Nam", "Tiểu thuyết"], "j": ["Văn học Việt Nam", "Truyện ngắn"],
                "p": ["Văn học Việt Nam", "Thơ"], "e": ["Văn học Việt Nam", "Bút ký"]}


@dataclass
class Person:
    heading: str      # as in MARC 100/700 ("Hugo, Victor"; Vietnamese names are not inverted)
    natural: str      # as printed on the title page ("Victor Hugo")
    western: bool = False


@dataclass
class Work:
    wid: int
    title: str
    subtitle: str | None
    authors: list[Person]
    category: str
    publisher: str                      # key of PUBLISHERS, or a literal name for foreign books
    year: int
    ddc: str
    pages: int
    subjects: list[list[str]]
    lit_form: str = "0"
    translator: Person | None = None
    role: str = "dịch"
    original: str | None = None
    lang: str = "vie"
    orig_lang: str | None = None
    edition: str | None = None
    isbn: str | None = None              # canonical ISBN-13, digits only
    series: str | None = None
    size: int = 21
    illus: bool = False
    juvenile: bool = False
    place: str | None = None             # for foreign publishers
    country: str = "vm "
    classic: bool = False
    weight: float = 1.0
    keywords: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- small helpers
def isbn13_check_digit(first12: str) -> str:
    total = sum((1 if i % 2 == 0 else 3) * int(c) for i, c in enumerate(first12))
    return str((10 - total % 10) % 10)


def isbn13_is_valid(isbn: str) -> bool:
    digits = isbn.replace("-", "")
    return len(digits) == 13 and digits.isdigit() and isbn13_check_digit(digits[:12]) == digits[12]


def isbn13_to_isbn10(isbn13: str) -> str:
    core = isbn13[3:12]
    total = sum((10 - i) * int(c) for i, c in enumerate(core))
    check = (11 - total % 11) % 11
    return core + ("X" if check == 10 else str(check))


def hyphenate_isbn(isbn13: str, registrant_len: int) -> str:
    """978-604-2-12345-6 style: the registrant length is known from the publisher table."""
    group_end = 6 if isbn13.startswith("978604") else 4
    reg_end = group_end + registrant_len
    return "-".join([isbn13[:3], isbn13[3:group_end], isbn13[group_end:reg_end],
                     isbn13[reg_end:12], isbn13[12]])


def fold(text: str) -> str:
    """ASCII folding (đ -> d) used for call-number cutters."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in text if not unicodedata.combining(c))


_OLD_TONES = {"òa": "oà", "óa": "oá", "ỏa": "oả", "õa": "oã", "ọa": "oạ", "òe": "oè",
              "óe": "oé", "ỏe": "oẻ", "õe": "oẽ", "ọe": "oẹ", "ùy": "uỳ", "úy": "uý",
              "ủy": "uỷ", "ũy": "uỹ", "ụy": "uỵ"}
_OLD_TONES_RE = re.compile(r"(?<![qQ])(" + "|".join(_OLD_TONES) + r")(?![\wà-ỹ])")


def old_style_tones(text: str) -> str:
    """'hòa' -> 'hoà', 'thủy' -> 'thuỷ': the older placement many cataloguers still type."""
    return _OLD_TONES_RE.sub(lambda m: _OLD_TONES[m.group(1)], text)


def _person(rng: random.Random) -> Person:
    if rng.random() < 0.5:
        name = f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE_F)} {rng.choice(GIVEN_F)}"
    elif rng.random() < 0.85:
        name = f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE_M)} {rng.choice(GIVEN_M)}"
    else:  # two-syllable names and pen names exist too
        name = f"{rng.choice(SURNAMES)} {rng.choice(GIVEN_M + GIVEN_F)}"
    return Person(name, name)


def _vn(name: str) -> Person:
    return Person(name, name)


# --------------------------------------------------------------------------- the works
class _IsbnMaker:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def make(self, prefix_digits: str) -> str:
        free = 12 - len(prefix_digits)
        while True:
            body = prefix_digits + "".join(str(self.rng.randrange(10)) for _ in range(free))
            if body not in self.used:
                self.used.add(body)
                return body + isbn13_check_digit(body)

    def vietnamese(self, publisher: str) -> str:
        return self.make("978604" + PUBLISHERS[publisher][3])


def _year(rng: random.Random, low: int = 1985) -> int:
    """Skewed towards recent years, as acquisitions are."""
    return min(2026, low + int((2027 - low) * rng.random() ** 0.55))


def _generated_title(rng: random.Random, cat: str) -> tuple:
    """(title, subtitle, subjects, ddc, publishers, literary form, pages range)."""
    if cat == "vh":
        kind = rng.random()
        if kind < 0.55:
            t = f"{rng.choice(NOVEL_HEADS)} {rng.choice(NOVEL_TAILS)}"
            form = rng.choice(["f", "f", "j"])
            sub = "tiểu thuyết" if form == "f" else "tập truyện ngắn"
            return (t, sub if rng.random() < 0.7 else None, [LIT_SUBJECTS[form]],
                    "895.92234", ["vanhoc", "hnv", "tre", "phunu", "thanhnien", "laodong"], form,
                    (150, 480))
        if kind < 0.75:
            return (f"Tuyển tập truyện ngắn {rng.choice(PROVINCES)}", None, [LIT_SUBJECTS["j"]],
                    "895.92234", ["vanhoc", "hnv"], "j", (200, 600))
        if kind < 0.9:
            return (f"Thơ {rng.choice(POEM_THEMES)}", "tuyển chọn" if rng.random() < 0.5 else None,
                    [LIT_SUBJECTS["p"]], "895.92214", ["vanhoc", "hnv", "thanhnien"], "p",
                    (80, 260))
        return (f"{rng.choice(NOVEL_HEADS)} {rng.choice(NOVEL_TAILS)}", "bút ký",
                [LIT_SUBJECTS["e"]], "895.92284", ["hnv", "vanhoc"], "e", (120, 300))
    if cat == "tn":
        kind = rng.random()
        if kind < 0.4:
            return (rng.choice(TALES), rng.choice(["truyện tranh", "truyện cổ tích Việt Nam"]),
                    [["Văn học dân gian", "Truyện cổ tích"], ["Văn học thiếu nhi"]],
                    "398.209597", ["kimdong", "giaoduc", "danang"], "1", (16, 40))
        if kind < 0.75:
            return (f"Chú {rng.choice(CRITTERS)} {rng.choice(CRITTER_PHRASES)}", "truyện tranh",
                    [["Văn học thiếu nhi", "Truyện tranh"]], "895.92234",
                    ["kimdong", "tre", "phunu"], "1", (24, 64))
        if kind < 0.88:
            topic = rng.choice(["Động vật", "Thực vật", "Vũ trụ", "Cơ thể người", "Trái Đất",
                                "Khoa học kỹ thuật"])
            return ("Mười vạn câu hỏi vì sao", topic, [["Khoa học thường thức", "Sách thiếu nhi"]],
                    "031", ["kimdong", "giaoduc"], "0", (120, 260))
        skill = rng.choice(["học chữ cái", "làm quen với số", "tập tô màu", "học về an toàn",
                            "tự lập", "giao tiếp", "giữ gìn vệ sinh"])
        return (f"Bé {skill}", None, [["Giáo dục mầm non"], ["Sách thiếu nhi"]], "372.21",
                ["kimdong", "giaoduc", "phunu"], "0", (16, 48))
    if cat == "ls":
        kind = rng.random()
        if kind < 0.35:
            p = rng.choice(PERIODS)
            return (f"Lịch sử Việt Nam thời kỳ {p}", None, [["Lịch sử", "Việt Nam"]], "959.702",
                    ["khxh", "ctqg", "giaoduc"], "0", (250, 700))
        if kind < 0.55:
            d = rng.choice(DISTRICTS)
            return (f"Lịch sử Đảng bộ huyện {d}", f"{rng.choice(['1930 – 1975', '1975 – 2020', '1930 – 2020'])}",
                    [["Đảng Cộng sản Việt Nam", "Lịch sử"], [f"{d} (Sơn Nam)"]],
                    "324.2597075", ["ctqg"], "0", (300, 560))
        p = rng.choice(PROVINCES)
        t = rng.choice([f"Địa chí {p}", f"Di tích lịch sử – văn hóa {p}",
                        f"Lễ hội truyền thống {p}", f"Danh nhân {p}"])
        return (t, None, [["Văn hóa", "Lịch sử"], [p]], "959.74", ["khxh", "thuanhoa", "vanhoc"],
                "0", (180, 900))
    if cat == "nn":
        if rng.random() < 0.55:
            crop, ddc = rng.choice(CROPS)
            t = rng.choice([f"Kỹ thuật trồng {crop}", f"Kỹ thuật trồng và chăm sóc {crop}",
                            f"Phòng trừ sâu bệnh hại {crop}", f"Hỏi đáp về cây {crop}"])
            subj = [["Nông nghiệp", "Trồng trọt"], [crop.capitalize()]]
        else:
            animal, ddc = rng.choice(ANIMALS)
            t = rng.choice([f"Kỹ thuật nuôi {animal}", f"Hỏi đáp về chăn nuôi {animal}",
                            f"Phòng và trị bệnh cho {animal}"])
            subj = [["Chăn nuôi", "Kỹ thuật"], [animal.capitalize()]]
        return (t, None, subj, ddc, ["nongnghiep", "nongnghiep", "laodong", "thanhnien"], "0",
                (60, 180))
    if cat == "gt":
        course, ddc = rng.choice(COURSES)
        return (f"Giáo trình {course}", rng.choice([None, "dùng cho các trường đại học, cao đẳng"]),
                [[course.split(" Mác")[0], "Giáo trình"]], ddc, ["giaoduc", "dhqg", "ctqg"], "0",
                (200, 520))
    if cat == "tk":
        subject, ddc = rng.choice(SCHOOL_SUBJECTS)
        grade = rng.choice(["10", "11", "12"])
        t = rng.choice([f"Bồi dưỡng học sinh giỏi {subject} {grade}",
                        f"Bài tập {subject} {grade} nâng cao",
                        f"Phương pháp giải bài tập {subject} {grade}",
                        f"Ôn luyện thi tốt nghiệp THPT môn {subject}",
                        f"Tuyển chọn đề thi {subject} vào lớp 10"])
        return (t, None, [[subject, "Sách đọc thêm"]], ddc, ["giaoduc", "dhqg"], "0", (120, 360))
    if cat == "pl":
        law = rng.choice(LAWS)
        t = rng.choice([f"Hỏi đáp về {law}", f"Tìm hiểu {law}", f"{law} (hiện hành)"])
        return (t, None, [["Pháp luật", "Việt Nam"], [law]], "346.597", ["ctqg", "laodong"], "0",
                (60, 260))
    if cat == "yt":
        if rng.random() < 0.5:
            t = f"Phòng chống bệnh {rng.choice(DISEASES)}"
            ddc = "616"
        else:
            t = rng.choice(["Chăm sóc sức khỏe", "Dinh dưỡng cho"]) + " " + rng.choice(CARE_GROUPS)
            ddc = "613"
        return (t, None, [["Y học", "Phòng bệnh"]], ddc, ["yhoc", "phunu", "thanhnien"], "0",
                (60, 220))
    # hcm
    group = rng.choice(["thiếu nhi", "nông dân", "quê hương Nghệ An", "bộ đội", "phụ nữ",
                        "thanh niên", "công an nhân dân"])
    t = rng.choice([f"Bác Hồ với {group}", f"Chủ tịch Hồ Chí Minh với {group}",
                    "Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh"])
    return (t, None, [["Hồ Chí Minh, 1890-1969"], ["Tư tưởng Hồ Chí Minh"]], "335.4346",
            ["ctqg", "thanhnien", "kimdong"], "0", (100, 300))


GENERATED_MIX = {"vh": 0.24, "tn": 0.19, "ls": 0.10, "nn": 0.12, "gt": 0.07, "tk": 0.09,
                 "pl": 0.07, "yt": 0.07, "hcm": 0.05}


def _build_works(rng: random.Random, n_generated: int) -> list[Work]:
    isbns = _IsbnMaker(rng)
    works: list[Work] = []

    def add(**kw) -> Work:
        w = Work(wid=len(works) + 1, **kw)
        if w.isbn is None and w.year >= 2007 and w.place is None and rng.random() < 0.93:
            w.isbn = isbns.vietnamese(w.publisher)
        works.append(w)
        return w

    for title, sub, author, pub, year, cat, ddc, pages, form in CLASSICS:
        subjects = [LIT_SUBJECTS.get(form, ["Văn học Việt Nam"])] if cat in ("vh", "tn") else (
            [["Lịch sử", "Việt Nam"]] if cat == "ls" else [["Hồ Chí Minh, 1890-1969"]])
        base = add(title=title, subtitle=sub, authors=[_vn(author)], category=cat, publisher=pub,
                   year=year, ddc=ddc, pages=pages, subjects=subjects, lit_form=form,
                   juvenile=cat == "tn", classic=True, weight=8.0,
                   series=rng.choice(SERIES["vh"]) if rng.random() < 0.3 else None)
        _add_editions(rng, add, base, count=rng.choice([1, 1, 2, 3]))
    for (title, sub, (heading, natural), trans, orig, olang, pub, year, cat, ddc,
         pages) in TRANSLATED:
        base = add(title=title, subtitle=sub, authors=[Person(heading, natural, True)],
                   category=cat, publisher=pub, year=year, ddc=ddc, pages=pages,
                   subjects=[["Văn học nước ngoài", "Tiểu thuyết"]], lit_form="f",
                   translator=_vn(trans), original=orig, orig_lang=olang, weight=4.0,
                   juvenile=pub == "kimdong", series=SERIES["dich"][0])
        _add_editions(rng, add, base, count=rng.choice([0, 1, 1, 2]))
    for (title, sub, (heading, natural), pub, place, year, prefix, ddc, pages,
         country) in ENGLISH:
        western = "," in heading and not heading.startswith(("Trần,",))
        add(title=title, subtitle=sub, authors=[Person(heading, natural, western)],
            category="eng", publisher=pub, place=place, year=year, ddc=ddc, pages=pages,
            subjects=[["Vietnam", "History"]] if ddc.startswith("959") else [["Fiction"]],
            lang="eng", country=country, weight=1.0,
            isbn=isbns.make(prefix.replace("-", "")) if year >= 1990 else None,
            lit_form="f" if ddc.startswith(("8",)) else "0")
    for title, sub, cat, pub, ddc in NEAR_TWINS:
        form = "p" if ddc.endswith("14") else "f"
        add(title=title, subtitle=sub, authors=[_person(rng)], category=cat, publisher=pub,
            year=_year(rng, 2005), ddc=ddc, pages=rng.randint(24, 260),
            subjects=[["Văn học thiếu nhi"]] if cat == "tn" else [LIT_SUBJECTS[form]],
            lit_form=form, juvenile=cat == "tn", weight=3.0)

    cats = list(GENERATED_MIX)
    cat_weights = [GENERATED_MIX[c] for c in cats]
    for _ in range(n_generated):
        cat = rng.choices(cats, cat_weights)[0]
        title, sub, subjects, ddc, pubs, form, (lo, hi) = _generated_title(rng, cat)
        n_auth = 1 if cat in ("vh", "tn", "hcm") else rng.choice([1, 1, 2, 3])
        authors = [_person(rng) for _ in range(n_auth)]
        if cat == "tn" and ddc.startswith("398"):
            authors = []  # folk tales: retold, no main entry
        translator = _person(rng) if not authors else None
        w = add(title=title, subtitle=sub, authors=authors, category=cat,
                publisher=rng.choice(pubs), year=_year(rng), ddc=ddc,
                pages=rng.randint(lo, hi), subjects=subjects, lit_form=form,
                translator=translator, role="kể" if translator else "dịch",
                juvenile=cat == "tn", size=rng.choice([19, 21, 24, 27]) if cat == "tn" else 21,
                illus=cat in ("tn", "nn", "yt") or rng.random() < 0.1,
                series=rng.choice(SERIES[cat]) if cat in SERIES and rng.random() < 0.25 else None,
                weight=rng.lognormvariate(0, 0.8))
        if rng.random() < 0.06:
            _add_editions(rng, add, w, count=1)
    return works


def _add_editions(rng: random.Random, add, base: Work, count: int) -> None:
    """Reprints are different editions: new year, new ISBN, an edition statement."""
    year = base.year
    first = rng.choice([1, 2, 3])
    for n in range(count):
        year = min(2026, year + rng.randint(1, 4))
        if year == base.year:
            return
        add(title=base.title, subtitle=base.subtitle, authors=base.authors,
            category=base.category, publisher=base.publisher, year=year, ddc=base.ddc,
            pages=base.pages + rng.choice([0, 0, 8, -4, 16]), subjects=base.subjects,
            lit_form=base.lit_form, translator=base.translator, original=base.original,
            orig_lang=base.orig_lang, edition=f"Tái bản lần thứ {first + n}",
            series=base.series, juvenile=base.juvenile, size=base.size, illus=base.illus,
            classic=False, weight=base.weight / 3)


# --------------------------------------------------------------------------- cataloguing styles
CATEGORY_AFFINITY = {
    "tv-tinh": {"eng": 2.0, "tk": 0.3},
    "tv-kim-son": {"nn": 3.0, "tn": 2.0, "pl": 2.0, "yt": 1.5, "gt": 0.2, "eng": 0.0, "tk": 0.3},
    "tv-yen-mo": {"nn": 3.0, "tn": 2.0, "vh": 1.5, "ls": 1.5, "gt": 0.2, "eng": 0.0},
    "thpt-lvt": {"tk": 8.0, "vh": 3.0, "dich": 3.0, "gt": 0.4, "nn": 0.05, "tn": 0.5, "pl": 0.5,
                 "eng": 0.5, "yt": 0.3},
    "tv-hoa-lu": {"ls": 3.0, "nn": 2.0, "tn": 1.5, "gt": 0.2, "eng": 0.0, "tk": 0.3},
    "thcs-ths": {"tk": 6.0, "vh": 3.0, "tn": 2.0, "gt": 0.4, "nn": 0.05, "eng": 0.3},
}


def _name(p: Person, comma: bool) -> tuple[str, str]:
    """(heading, MARC ind1). Some cataloguers put a comma after the Vietnamese surname."""
    if p.western or "," in p.heading:
        return p.heading, "1"
    if comma and " " in p.heading and p.heading.split(" ")[0] in SURNAMES:
        head, rest = p.heading.split(" ", 1)
        return f"{head}, {rest}", "1"
    return p.heading, "0"


def _catalogue(work: Work, lib: str, rng: random.Random) -> dict:
    """One library's description of a work: the same facts, in that library's habits."""
    r = rng.random
    full, short, place, reg = PUBLISHERS.get(work.publisher, (work.publisher, work.publisher,
                                                              work.place, ""))
    if work.place:
        place = work.place
    isbn = None
    if work.isbn:
        hyph = hyphenate_isbn(work.isbn, len(reg)) if reg else work.isbn
        if lib == "tv-tinh":
            isbn = hyph if r() < 0.8 else work.isbn
        elif lib == "tv-kim-son":
            isbn = work.isbn if r() < 0.9 else hyph
        elif lib == "tv-yen-mo":
            x = r()
            isbn = None if x < 0.3 else isbn13_to_isbn10(work.isbn) if x < 0.6 else work.isbn
        else:
            isbn = None if r() < 0.4 else hyph
    subtitle = work.subtitle
    if subtitle and r() < {"tv-tinh": 0.05, "tv-kim-son": 0.4, "tv-yen-mo": 0.3}.get(lib, 0.5):
        subtitle = None
    comma = {"tv-tinh": 0.0, "tv-kim-son": 0.4, "tv-yen-mo": 0.25}.get(lib, 0.1) > r()
    publisher = full
    if lib == "tv-kim-son" and r() < 0.7:
        publisher = short
    elif lib == "tv-yen-mo" and r() < 0.4:
        publisher = short
    elif lib == "thpt-lvt" and full.startswith("Nxb. "):
        publisher = "NXB " + short
    if lib == "tv-kim-son" and place == "Hà Nội" and r() < 0.6:
        place = "H."
    if place == "Thành phố Hồ Chí Minh" and lib != "tv-tinh":
        place = rng.choice(["Tp. Hồ Chí Minh", "TP. HCM", "Thành phố Hồ Chí Minh"])
    year = str(work.year)
    if lib == "tv-kim-son" and r() < 0.15:
        year = f"[{year}]"
    elif lib == "tv-yen-mo" and r() < 0.1:
        year = f"c{year}"
    resp = ", ".join(a.natural for a in work.authors)
    if work.category == "gt" and work.authors:
        resp = work.authors[0].natural + " (ch.b.)" + "".join(
            ", " + a.natural for a in work.authors[1:])
    if work.translator:
        resp = (resp + " ; " if resp else "") + f"{work.translator.natural} {work.role}"
    return {
        "title": work.title, "subtitle": subtitle, "resp": resp or None,
        "authors": [_name(a, comma) for a in work.authors],
        "translator": _name(work.translator, comma) if work.translator else None,
        "role": work.role, "edition": work.edition, "place": place, "publisher": publisher,
        "year": year, "isbn": isbn,
        "price": f"{max(15, work.pages // 4) * 1000}đ" if lib == "tv-tinh" and r() < 0.7 else None,
        "bad_isbn": lib == "tv-tinh" and work.isbn and r() < 0.01,
        "pages": work.pages, "illus": work.illus, "size": work.size, "series": work.series,
        "subjects": work.subjects, "ddc": work.ddc,
        "lang": work.lang, "orig_lang": work.orig_lang, "original": work.original,
        "juvenile": work.juvenile, "lit_form": work.lit_form, "country": work.country,
        "use264": lib == "tv-tinh" and work.year >= 2015 and r() < 0.7,
        "pages_label": "p." if work.lang == "eng" else "tr.",
    }


def _cutter(v: dict) -> str:
    name = v["authors"][0][0] if v["authors"] else v["title"]
    parts = fold(name).upper().replace(",", "").split()
    if not v["authors"] or len(parts) < 2:
        return "".join(parts)[:3]
    return f"{parts[0][:2]}-{parts[-1][:1]}"  # Nguyễn Du -> NG-D


def _call_number(v: dict) -> str:
    ddc = v["ddc"]
    if "." in ddc and len(ddc.split(".")[1]) > 3:
        whole, frac = ddc.split(".")
        ddc = f"{whole}.{frac[:3]} {frac[3:]}"
    return f"{ddc} {_cutter(v)}"


# --------------------------------------------------------------------------- MARC21 and DC
def _marc_xml(leader_status: str, desc: str, controls: list, fields: list) -> str:
    """MARCXML with a leader whose length and base address match the ISO 2709 form."""
    n = len(controls) + len(fields)
    body = sum(len(v.encode()) + 1 for _, v in controls)
    body += sum(3 + sum(2 + len(val.encode()) for _, val in subs) for _, _, _, subs in fields)
    base = 24 + 12 * n + 1
    leader = f"{base + body + 1:05d}{leader_status}am a22{base:05d} {desc} 4500"
    out = [f'<record xmlns="{MARC_NS}"><leader>{leader}</leader>']
    for tag, value in controls:
        out.append(f'<controlfield tag="{tag}">{escape(value)}</controlfield>')
    for tag, i1, i2, subs in fields:
        out.append(f'<datafield tag="{tag}" ind1="{i1}" ind2="{i2}">')
        out.extend(f'<subfield code="{c}">{escape(val)}</subfield>' for c, val in subs)
        out.append("</datafield>")
    out.append("</record>")
    return "".join(out)


def _nonfiling(title: str, lang: str) -> str:
    if lang != "eng":
        return "0"
    for article in ("The ", "An ", "A "):
        if title.startswith(article):
            return str(len(article))
    return "0"


def _marc_fields(v: dict, entered: str) -> list:
    fields = []
    if v["isbn"]:
        subs = [("a", v["isbn"])] + ([("c", v["price"])] if v["price"] else [])
        fields.append(("020", " ", " ", subs))
    if v["bad_isbn"]:
        bad = (v["isbn"] or "9786040000000").replace("-", "")
        fields.append(("020", " ", " ", [("z", bad[:12] + str((int(bad[12]) + 1) % 10))]))
    if v["orig_lang"]:
        fields.append(("041", "1", " ", [("a", v["lang"]), ("h", v["orig_lang"])]))
    else:
        fields.append(("041", "0", " ", [("a", v["lang"])]))
    fields.append(("082", "0", "4", [("a", v["ddc"]), ("2", "23")]))
    if v["authors"]:
        heading, ind1 = v["authors"][0]
        fields.append(("100", ind1, " ", [("a", heading)]))
    # 245 with ISBD punctuation at the end of each subfield, as Koha records carry it
    t = [("a", v["title"])]
    if v["subtitle"]:
        t = [("a", v["title"] + " :"), ("b", v["subtitle"])]
    if v["resp"]:
        t[-1] = (t[-1][0], t[-1][1] + " /")
        t.append(("c", v["resp"] + "."))
    elif not t[-1][1].endswith(("!", "?", ".")):
        t[-1] = (t[-1][0], t[-1][1] + ".")
    fields.append(("245", "1" if v["authors"] else "0", _nonfiling(v["title"], v["lang"]), t))
    if v["edition"]:
        fields.append(("250", " ", " ", [("a", v["edition"])]))
    pub = [("a", v["place"] + " :"), ("b", v["publisher"] + ","), ("c", v["year"] + ".")]
    fields.append(("264", " ", "1", pub) if v["use264"] else ("260", " ", " ", pub))
    extent = f"{v['pages']} {v['pages_label']}"
    size = f"{v['size']} cm."
    if v["illus"]:
        fields.append(("300", " ", " ", [("a", extent + " :"), ("b", "minh họa ;"), ("c", size)]))
    else:
        fields.append(("300", " ", " ", [("a", extent + " ;"), ("c", size)]))
    if v["series"]:
        fields.append(("490", "0", " ", [("a", v["series"])]))
    if v["original"]:
        fields.append(("500", " ", " ", [("a", f"Tên sách nguyên bản: {v['original']}")]))
    for subj in v["subjects"]:
        subs = [("a", subj[0])] + [("x", s) for s in subj[1:]]
        fields.append(("650", " ", "7", subs + [("2", "Bộ TK TVQG")]))
    for heading, ind1 in v["authors"][1:]:
        fields.append(("700", ind1, " ", [("a", heading)]))
    if v["translator"]:
        heading, ind1 = v["translator"]
        fields.append(("700", ind1, " ", [("a", heading + ","), ("e", v["role"])]))
    return fields


def _field_008(v: dict, entered: str) -> str:
    year = re.sub(r"\D", "", v["year"])[:4]
    ill = "a   " if v["illus"] else "    "
    aud = "j" if v["juvenile"] else " "
    value = f"{entered}s{year}    {v['country']}{ill}{aud}      000 {v['lit_form']} {v['lang']} d"
    assert len(value) == 40, value
    return value


def _koha_marc(v: dict, biblionumber: int, stamp: datetime, entered: str, items: list,
               itemtype: str, corrected: bool) -> str:
    controls = [("001", str(biblionumber)), ("005", stamp.strftime("%Y%m%d%H%M%S.0")),
                ("008", _field_008(v, entered))]
    fields = _marc_fields(v, entered)
    fields.append(("942", " ", " ", [("2", "ddc"), ("c", itemtype)]))
    fields.extend(("952", " ", " ", item) for item in items)
    fields.append(("999", " ", " ", [("c", str(biblionumber)), ("d", str(biblionumber))]))
    desc = "i" if v["use264"] else "a"
    return _marc_xml("c" if corrected else "n", desc, controls, fields)


def _libol_marc(v: dict, number: int, stamp: datetime, library_name: str) -> str:
    """A Libol export: MARC21 with the copy described in 852 (no Koha 952 items)."""
    controls = [("001", str(number)), ("005", stamp.strftime("%Y%m%d%H%M%S.0")),
                ("008", _field_008(v, stamp.strftime("%y%m%d")))]
    fields = _marc_fields(v, "")
    fields.append(("852", " ", " ", [("a", library_name), ("h", _call_number(v))]))
    return _marc_xml("n", "i" if v["use264"] else "a", controls, fields)


def _dc_xml(elements: list) -> str:
    out = [f'<oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
           f'xsi:schemaLocation="{OAI_DC_NS} http://www.openarchives.org/OAI/2.0/oai_dc.xsd">']
    out.extend(f"<dc:{name}>{escape(value)}</dc:{name}>" for name, value in elements if value)
    out.append("</oai_dc:dc>")
    return "".join(out)


def _koha_dc(marc_fields: list) -> str:
    """What Koha's MARC21slim2OAIDC stylesheet makes of the record: punctuation left in."""
    get = {}
    for tag, _, _, subs in marc_fields:
        get.setdefault(tag, []).append(subs)
    els = []
    for subs in get.get("245", []):
        els.append(("title", " ".join(val for c, val in subs if c in "ab")))
    for tag in ("100", "700"):
        for subs in get.get(tag, []):
            els.append(("creator", " ".join(val for c, val in subs if c == "a")))
    els.append(("type", "text"))
    for tag in ("260", "264"):
        for subs in get.get(tag, []):
            els.append(("publisher", " ".join(val for c, val in subs if c in "ab")))
            els.append(("date", " ".join(val for c, val in subs if c == "c")))
    for subs in get.get("041", []):
        els.append(("language", subs[0][1]))
    for subs in get.get("500", []):
        els.append(("description", subs[0][1]))
    for subs in get.get("650", []):
        els.append(("subject", "--".join(val for c, val in subs if c in "axyzv")))
    for subs in get.get("020", []):
        els.extend(("identifier", "URN:ISBN:" + val) for c, val in subs if c == "a")
    return _dc_xml(els)


def _plain_dc(v: dict, lib: str) -> str:
    """Home-made Dublin Core of the non-Koha systems: every field in its own way."""
    title = v["title"] + (f" : {v['subtitle']}" if v["subtitle"] else "")
    els = [("title", title)]
    els.extend(("creator", heading) for heading, _ in v["authors"])
    if v["translator"]:
        els.append(("contributor", f"{v['translator'][0]} ({v['role']})"))
    if lib == "tv-yen-mo":
        els.extend(("subject", term) for subj in v["subjects"] for term in subj)
    else:
        els.extend(("subject", " -- ".join(subj)) for subj in v["subjects"])
    if v["edition"]:
        els.append(("description", v["edition"]))
    if v["original"]:
        els.append(("description", f"Tên sách nguyên bản: {v['original']}"))
    els.append(("publisher", v["publisher"]))
    els.append(("date", v["year"]))
    els.append(("type", "Sách" if lib == "tv-yen-mo" else "Text"))
    els.append(("format", f"{v['pages']} {v['pages_label']} ; {v['size']} cm"))
    if v["isbn"]:
        els.append(("identifier", f"ISBN {v['isbn']}" if lib == "tv-yen-mo" else v["isbn"]))
    lang = {"vie": "vi", "eng": "en"}.get(v["lang"], v["lang"]) if lib == "tv-yen-mo" else v["lang"]
    els.append(("language", lang))
    els.append(("coverage", v["place"]))
    return _dc_xml(els)


# --------------------------------------------------------------------------- Koha items (952)
_BRANCHES = {"tv-tinh": ["TRUNGTAM", "THIEUNHI", "LUUDONG"], "tv-kim-son": ["KIMSON", "KS-XA"],
             "tv-hoa-lu": ["HOALU", "HL-XA"]}
_BARCODE_PREFIX = {"TRUNGTAM": "VV", "THIEUNHI": "TN", "LUUDONG": "LD", "KIMSON": "KS",
                   "KS-XA": "KD", "HOALU": "HL", "HL-XA": "NH"}


def _items(v: dict, lib: str, rng: random.Random, counters: dict, call_number: str,
           itemtype: str) -> list:
    return koha_items(v, rng, counters, call_number, itemtype, provincial=lib == "tv-tinh",
                      branches=_BRANCHES[lib], barcode_prefix=_BARCODE_PREFIX.__getitem__)


def koha_items(v: dict, rng: random.Random, counters: dict, call_number: str, itemtype: str,
               provincial: bool, branches: list[str], barcode_prefix) -> list:
    """1-4 copies with Koha's status subfields; most on the shelf, a fifth out on loan."""
    items = []
    n = rng.choice([1, 1, 2, 2, 2, 3, 3, 4]) if provincial else rng.choice([1, 1, 1, 2, 2])
    for copy in range(1, n + 1):
        if provincial:
            if v["juvenile"]:
                home = rng.choice(["THIEUNHI", "THIEUNHI", "TRUNGTAM", "LUUDONG"])
            else:
                home = rng.choice(["TRUNGTAM", "TRUNGTAM", "TRUNGTAM", "LUUDONG"])
        else:  # a district library: mostly its own building, some in a commune book cabinet
            home = branches[0] if rng.random() < 0.8 else branches[1]
        holding = home if rng.random() < 0.95 else rng.choice(branches)
        location = rng.choice(["KHOMO", "KHOMO", "KHOMUON", "KHODOC"])
        x = rng.random()
        status = ("available" if x < 0.70 else "loan" if x < 0.90 else "reference" if x < 0.95
                  else "lost" if x < 0.97 else "withdrawn" if x < 0.985 else "damaged")
        if status == "reference":
            location = "TRA CUU" if home == "TRUNGTAM" else "KHODOC"
        counters["item"] += 1
        counters[home] = counters.get(home, 0) + 1
        acquired = date(max(int(re.sub(r"\D", "", v["year"])[:4]), 2008), 1, 1) + timedelta(
            days=rng.randrange(0, 330))
        subs = [("0", "1" if status == "withdrawn" else "0"),
                ("1", "1" if status == "lost" else "0"),
                ("4", "1" if status == "damaged" else "0"),
                ("7", "1" if status == "reference" else "0"),
                ("9", str(counters["item"])), ("a", home), ("b", holding), ("c", location),
                ("d", acquired.isoformat()), ("g", str(max(15, v["pages"] // 4) * 1000)),
                ("l", str(rng.randrange(0, 40))), ("o", call_number),
                ("p", f"{barcode_prefix(home)}{counters[home]:06d}")]
        if status == "loan":
            due = date(2026, 11, 1) + timedelta(days=rng.randrange(0, 61))
            subs.append(("q", due.isoformat()))
        subs += [("t", str(copy)), ("y", itemtype)]
        items.append(subs)
    return items


# --------------------------------------------------------------------------- the network
_START = datetime(2026, 10, 1, 0, 0, 0)
_SPAN_S = int((datetime(2026, 11, 22, 23, 59, 59) - _START).total_seconds())


def _stamp(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pick(rng: random.Random, works: list[Work], lib: str, k: int) -> list[Work]:
    """Classics everywhere, then weighted sampling without replacement (Efraimidis-Spirakis)."""
    affinity = CATEGORY_AFFINITY[lib]
    chosen = [w for w in works if w.classic][:k]
    keyed = []
    for w in works:
        weight = w.weight * affinity.get(w.category, 1.0)
        if w.classic or weight <= 0:
            continue
        keyed.append((rng.random() ** (1.0 / weight), w.wid, w))
    keyed.sort(reverse=True)
    chosen += [w for _, _, w in keyed[: max(0, k - len(chosen))]]
    return chosen


def generate_network(seed: int = DEMO_SEED, total_records: int = 5200
                     ) -> dict[str, list[ProviderRecord]]:
    """All four catalogues, keyed by library id, each sorted by local record number."""
    return _generate(seed, total_records)[0]


def work_keys(seed: int = DEMO_SEED, total_records: int = 5200) -> dict[str, dict[str, int]]:
    """Ground truth for deduplication: library id -> OAI identifier -> work id.

    Records of the same edition share a work id across (and, for duplicates, within)
    libraries; reprints ("Tái bản lần thứ ...") are different works. Deleted records are absent.
    """
    return _generate(seed, total_records)[1]


def _generate(seed: int, total_records: int):
    rng = random.Random(seed)
    n_generated = max(200, int(total_records * 0.72))
    works = _build_works(rng, n_generated)
    network, truth = {}, {}
    for lib_info in DEMO_LIBRARIES:
        lib = lib_info["id"]
        quota = round(total_records * lib_info["share"])
        n_deleted = {"tv-tinh": 12, "tv-yen-mo": 6}.get(lib, 0) if total_records >= 500 else 0
        n_dupes = {"tv-tinh": 8, "tv-yen-mo": 3}.get(lib, 0) if total_records >= 500 else 0
        holdings = _pick(rng, works, lib, quota - n_deleted - n_dupes)
        holdings += rng.sample(holdings, n_dupes)  # the same book catalogued twice
        slots = [w for w in holdings] + [None] * n_deleted
        rng.shuffle(slots)
        network[lib] = _library_records(rng, lib_info, slots)
        truth[lib] = {rec.identifier: work.wid
                      for rec, work in zip(network[lib], slots) if work is not None}
    return network, truth


def _library_records(rng: random.Random, lib_info: dict, slots: list) -> list[ProviderRecord]:
    lib = lib_info["id"]
    repo = lib_info["repository"]
    koha = lib_info["system"] == "koha"
    counters = {"item": 0}
    records = []
    local = 0
    # Koha batch imports leave many records with the very same datestamp second.
    bulk = _START + timedelta(hours=1, minutes=30, days=rng.randrange(0, 20))
    for work in slots:
        local += 1 + (rng.randrange(1, 20) if rng.random() < 0.03 else 0)
        if koha and rng.random() < 0.08:
            when = bulk
        else:
            when = _START + timedelta(seconds=rng.randrange(_SPAN_S))
        if lib == "tv-tinh" or lib == "tv-kim-son":
            identifier = f"oai:{repo}:{local}"
        elif lib == "tv-yen-mo":
            identifier = f"oai:{repo}:YM{local:06d}"
        else:
            identifier = f"oai:{repo}:{local}"
        if work is None:
            records.append(ProviderRecord(identifier, _stamp(when), True, [], {}))
            continue
        v = _catalogue(work, lib, rng)
        sets = _sets(lib, work)
        metadata = {}
        if lib_info["system"] == "libol":
            metadata["marc21"] = _libol_marc(v, local, when, lib_info["name"])
        elif koha:
            entered_d = date(max(work.year, 2008), 1, 1) + timedelta(days=rng.randrange(0, 360))
            entered_d = min(entered_d, when.date())
            itemtype = "STN" if work.juvenile else "SACH"
            items = _items(v, lib, rng, counters, _call_number(v), itemtype)
            marc = _koha_marc(v, local, when, entered_d.strftime("%y%m%d"), items, itemtype,
                              corrected=rng.random() < 0.3)
            metadata["marc21"] = marc
            if "oai_dc" in lib_info["formats"]:
                metadata["oai_dc"] = _koha_dc(_marc_fields(v, ""))
        else:
            metadata["oai_dc"] = _plain_dc(v, lib)
        metadata = _encode_habits(metadata, lib, rng)
        records.append(ProviderRecord(identifier, _stamp(when), False, sets, metadata))
    for rec in records:  # deleted records keep their sets when the system knows them
        if rec.deleted and lib_info["sets"]:
            rec.sets = [lib_info["sets"][0]]
    return records


def _sets(lib: str, work: Work) -> list[str]:
    if lib in ("tv-tinh", "tv-kim-son"):
        return ["thieunhi"] if work.juvenile else ["sach"]
    if lib == "thpt-lvt":
        if work.category in ("tk", "gt"):
            return ["thamkhao"]
        if work.category in ("vh", "dich") or work.classic:
            return ["vanhoc"]
    return []


def _encode_habits(metadata: dict, lib: str, rng: random.Random) -> dict:
    """Old-style tone marks (school) and NFD (Yên Mô's software, some Kim Sơn imports)."""
    old_tones = {"thpt-lvt": 0.6, "tv-yen-mo": 0.3}.get(lib, 0.0) > rng.random()
    nfd = {"tv-yen-mo": 0.7, "tv-kim-son": 0.03}.get(lib, 0.0) > rng.random()
    out = {}
    for prefix, xml in metadata.items():
        before = len(xml.encode())
        if old_tones:
            xml = old_style_tones(xml)
        if nfd:
            xml = unicodedata.normalize("NFD", xml)
        if prefix == "marc21":  # keep the leader's record length true to the bytes
            xml = _bump_leader(xml, len(xml.encode()) - before)
        out[prefix] = xml
    return out


def _bump_leader(marc: str, delta: int) -> str:
    return re.sub(r"<leader>(\d{5})", lambda m: f"<leader>{int(m.group(1)) + delta:05d}", marc,
                  count=1)


# --------------------------------------------------------------------------- the next day
_FIRST_952 = re.compile(r'<datafield tag="952" ind1=" " ind2=" ">.*?</datafield>')
_DUE = re.compile(r'<subfield code="q">[^<]*</subfield>')


def simulate_changes(records: list[ProviderRecord], when: str = "2026-11-24T01:00:00Z",
                     seed: int = DEMO_SEED, changed: float = 0.02, deleted: int = 2
                     ) -> list[ProviderRecord]:
    """A day later: check-outs and returns move Koha records' datestamps (a 952 $q appears or
    goes, 005 changes), other systems re-export a few records, some records are deleted.

    Returns a new list (same order); the records given are left alone.
    """
    rng = random.Random(f"{seed}:{when}")
    start = datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ")
    live = [i for i, r in enumerate(records) if not r.deleted]
    picked = rng.sample(live, min(len(live), round(len(live) * changed) + deleted))
    gone = set(picked[:deleted])
    out = list(records)
    for i in picked:
        rec = records[i]
        stamp = start + timedelta(seconds=rng.randrange(8 * 3600))
        if i in gone:
            out[i] = ProviderRecord(rec.identifier, _stamp(start), True, rec.sets, {})
            continue
        metadata = dict(rec.metadata)
        if "marc21" in metadata:
            metadata["marc21"] = _circulate(metadata["marc21"], stamp, rng)
        out[i] = ProviderRecord(rec.identifier, _stamp(stamp), False, rec.sets, metadata)
    return out


def _circulate(marc: str, stamp: datetime, rng: random.Random) -> str:
    item = _FIRST_952.search(marc)
    if not item:
        return marc
    text = item.group(0)
    if _DUE.search(text):  # returned
        new_item, delta = _DUE.sub("", text), -12
    else:  # checked out: $q goes before $t, as Koha orders subfields
        due = (stamp + timedelta(days=rng.choice([14, 21, 30]))).strftime("%Y-%m-%d")
        new_item = text.replace('<subfield code="t">', f'<subfield code="q">{due}</subfield>'
                                '<subfield code="t">', 1)
        delta = 12
    marc = marc[:item.start()] + new_item + marc[item.end():]
    marc = re.sub(r'(<controlfield tag="005">)[^<]*', lambda m: m.group(1) + stamp.strftime(
        "%Y%m%d%H%M%S.0"), marc, count=1)
    return _bump_leader(marc, delta)


# --------------------------------------------------------------------------- files
def as_iso2709(records: list[ProviderRecord]) -> list[bytes]:
    """The MARC21 records as ISO2709, as Zebra indexes them and Libol exports them."""
    import io

    import pymarc
    out = []
    for record in records:
        if not record.deleted:
            [parsed] = pymarc.parse_xml_to_array(io.BytesIO(record.metadata["marc21"].encode("utf-8")))
            out.append(parsed.as_marc())
    return out


def save_records(path, records: list[ProviderRecord]) -> None:
    """JSON lines, UTF-8; written to a temporary file and renamed, so a running provider
    never reads half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
        for rec in records:
            f.write(json.dumps(asdict(rec), ensure_ascii=False) + "\n")
    os.chmod(tmp, 0o644)  # mkstemp makes it 0600
    os.replace(tmp, path)


def load_records(path) -> list[ProviderRecord]:
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                records.append(ProviderRecord(d["identifier"], d["datestamp"], d["deleted"],
                                              d["sets"], d["metadata"]))
    return records


def write_network(out_dir, seed: int = DEMO_SEED, total_records: int = 5200) -> dict[str, Path]:
    """Writes <out_dir>/<library id>.jsonl for every library; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for lib, records in generate_network(seed, total_records).items():
        paths[lib] = out_dir / f"{lib}.jsonl"
        save_records(paths[lib], records)
    return paths


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Write the demo network's catalogues as JSON lines.")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=DEMO_SEED)
    ap.add_argument("--total", type=int, default=5200)
    args = ap.parse_args(argv)
    for lib, path in write_network(args.out, args.seed, args.total).items():
        print(f"{lib}\t{path}")


if __name__ == "__main__":
    main()
