"""The books of the synthetic catalogues: word lists, people, works (editions) and their ISBNs.

The demo network (``network.py``), the network at full scale (``scaled_network.py``) and the
benchmarks take their books from here. Everything is drawn from the ``random.Random`` given, so
the same seed gives the same books.
"""
from __future__ import annotations

import random
from dataclasses import dataclass


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
# Words of the benchmarks' longer, more varied titles.
TITLE_WORDS = ("lịch sử văn hóa việt nam giáo trình kinh tế xã hội nghiên cứu truyện ngắn tiểu thuyết thơ ca "
               "dân gian đất nước con người hà nội sài gòn huế miền trung làng quê tuổi thơ mùa xuân kỹ thuật "
               "nông nghiệp y học phổ thông toán học vật lý hóa học sinh học tiếng anh pháp luật quản lý").split()


@dataclass(slots=True)
class Person:
    heading: str      # as in MARC 100/700 ("Hugo, Victor"; Vietnamese names are not inverted)
    natural: str      # as printed on the title page ("Victor Hugo")
    western: bool = False


@dataclass(slots=True)
class Work:
    """An edition as it really is; every library describes it in its own way."""
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
    registrant: str = ""                 # of the ISBN, when it is not the publisher's
    series: str | None = None
    size: int = 21
    illus: bool = False
    juvenile: bool = False
    place: str | None = None             # for foreign publishers
    country: str = "vm "
    classic: bool = False
    weight: float = 1.0


# --------------------------------------------------------------------------- ISBNs
def isbn13_check_digit(first12: str) -> str:
    total = sum((1 if i % 2 == 0 else 3) * int(c) for i, c in enumerate(first12))
    return str((10 - total % 10) % 10)


def hyphenate_isbn(isbn13: str, registrant_len: int) -> str:
    """978-604-2-12345-6 style: the registrant length is known from the publisher table."""
    group_end = 6 if isbn13.startswith("978604") else 4
    reg_end = group_end + registrant_len
    return "-".join([isbn13[:3], isbn13[3:group_end], isbn13[group_end:reg_end],
                     isbn13[reg_end:12], isbn13[12]])


class IsbnMaker:
    """ISBN-13s never handed out twice."""

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


# --------------------------------------------------------------------------- the works
def random_person(rng: random.Random) -> Person:
    if rng.random() < 0.5:
        name = f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE_F)} {rng.choice(GIVEN_F)}"
    elif rng.random() < 0.85:
        name = f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE_M)} {rng.choice(GIVEN_M)}"
    else:  # two-syllable names and pen names exist too
        name = f"{rng.choice(SURNAMES)} {rng.choice(GIVEN_M + GIVEN_F)}"
    return Person(name, name)


def _vn(name: str) -> Person:
    return Person(name, name)


def recent_year(rng: random.Random, low: int = 1985) -> int:
    """Skewed towards recent years, as acquisitions are."""
    return min(2026, low + int((2027 - low) * rng.random() ** 0.55))


def generated_title(rng: random.Random, cat: str) -> tuple:
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


def build_works(rng: random.Random, n_generated: int) -> list[Work]:
    """The classics (with their reprints), translations, English books and near-twin titles,
    then ``n_generated`` generated works; a work's ``wid`` is its place in the list, from 1."""
    isbns = IsbnMaker(rng)
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
        add(title=title, subtitle=sub, authors=[random_person(rng)], category=cat, publisher=pub,
            year=recent_year(rng, 2005), ddc=ddc, pages=rng.randint(24, 260),
            subjects=[["Văn học thiếu nhi"]] if cat == "tn" else [LIT_SUBJECTS[form]],
            lit_form=form, juvenile=cat == "tn", weight=3.0)

    cats = list(GENERATED_MIX)
    cat_weights = [GENERATED_MIX[c] for c in cats]
    for _ in range(n_generated):
        cat = rng.choices(cats, cat_weights)[0]
        title, sub, subjects, ddc, pubs, form, (lo, hi) = generated_title(rng, cat)
        n_auth = 1 if cat in ("vh", "tn", "hcm") else rng.choice([1, 1, 2, 3])
        authors = [random_person(rng) for _ in range(n_auth)]
        if cat == "tn" and ddc.startswith("398"):
            authors = []  # folk tales: retold, no main entry
        translator = random_person(rng) if not authors else None
        w = add(title=title, subtitle=sub, authors=authors, category=cat,
                publisher=rng.choice(pubs), year=recent_year(rng), ddc=ddc,
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


