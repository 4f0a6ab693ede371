"""Vietnamese legacy 8-bit encodings as tables of facts (generated once by a script, then frozen here).

TCVN3: reproduces tests/data/third_party/vietnamese/encodings/TCVN5712-1_nonascii_map.csv (glibc TCVN5712-1, all
140 non-ASCII byte positions; 0xB0-0xB4 are combining tone marks). VNI: reproduces the VNI-Windows
column of tests/data/third_party/vietnamese/encodings/duydev_unicode_vni_tcvn3_viqr_table.csv, except that its rows
for Ỷ Ỹ ỷ ỹ collide with Ì ì there; those four are "YÛ" "YÕ" "yû" "yõ" as in every VNI keyboard table
(the VNI row for Y is: Ý YÙ, Ỳ YØ, Ỷ YÛ, Ỹ YÕ, Ỵ Î). Do not edit by hand.
"""

# TCVN3 byte -> Unicode character (bytes not listed are ASCII).
TCVN3 = {
    0x01: "\u00da", 0x02: "\u1ee4", 0x04: "\u1eea", 0x05: "\u1eec", 0x06: "\u1eee", 0x11: "\u1ee8",
    0x12: "\u1ef0", 0x13: "\u1ef2", 0x14: "\u1ef6", 0x15: "\u1ef8", 0x16: "\u00dd", 0x17: "\u1ef4",
    0x80: "\u00c0", 0x81: "\u1ea2", 0x82: "\u00c3", 0x83: "\u00c1", 0x84: "\u1ea0", 0x85: "\u1eb6",
    0x86: "\u1eac", 0x87: "\u00c8", 0x88: "\u1eba", 0x89: "\u1ebc", 0x8A: "\u00c9", 0x8B: "\u1eb8",
    0x8C: "\u1ec6", 0x8D: "\u00cc", 0x8E: "\u1ec8", 0x8F: "\u0128", 0x90: "\u00cd", 0x91: "\u1eca",
    0x92: "\u00d2", 0x93: "\u1ece", 0x94: "\u00d5", 0x95: "\u00d3", 0x96: "\u1ecc", 0x97: "\u1ed8",
    0x98: "\u1edc", 0x99: "\u1ede", 0x9A: "\u1ee0", 0x9B: "\u1eda", 0x9C: "\u1ee2", 0x9D: "\u00d9",
    0x9E: "\u1ee6", 0x9F: "\u0168", 0xA0: "\u00a0", 0xA1: "\u0102", 0xA2: "\u00c2", 0xA3: "\u00ca",
    0xA4: "\u00d4", 0xA5: "\u01a0", 0xA6: "\u01af", 0xA7: "\u0110", 0xA8: "\u0103", 0xA9: "\u00e2",
    0xAA: "\u00ea", 0xAB: "\u00f4", 0xAC: "\u01a1", 0xAD: "\u01b0", 0xAE: "\u0111", 0xAF: "\u1eb0",
    0xB0: "\u0300", 0xB1: "\u0309", 0xB2: "\u0303", 0xB3: "\u0301", 0xB4: "\u0323", 0xB5: "\u00e0",
    0xB6: "\u1ea3", 0xB7: "\u00e3", 0xB8: "\u00e1", 0xB9: "\u1ea1", 0xBA: "\u1eb2", 0xBB: "\u1eb1",
    0xBC: "\u1eb3", 0xBD: "\u1eb5", 0xBE: "\u1eaf", 0xBF: "\u1eb4", 0xC0: "\u1eae", 0xC1: "\u1ea6",
    0xC2: "\u1ea8", 0xC3: "\u1eaa", 0xC4: "\u1ea4", 0xC5: "\u1ec0", 0xC6: "\u1eb7", 0xC7: "\u1ea7",
    0xC8: "\u1ea9", 0xC9: "\u1eab", 0xCA: "\u1ea5", 0xCB: "\u1ead", 0xCC: "\u00e8", 0xCD: "\u1ec2",
    0xCE: "\u1ebb", 0xCF: "\u1ebd", 0xD0: "\u00e9", 0xD1: "\u1eb9", 0xD2: "\u1ec1", 0xD3: "\u1ec3",
    0xD4: "\u1ec5", 0xD5: "\u1ebf", 0xD6: "\u1ec7", 0xD7: "\u00ec", 0xD8: "\u1ec9", 0xD9: "\u1ec4",
    0xDA: "\u1ebe", 0xDB: "\u1ed2", 0xDC: "\u0129", 0xDD: "\u00ed", 0xDE: "\u1ecb", 0xDF: "\u00f2",
    0xE0: "\u1ed4", 0xE1: "\u1ecf", 0xE2: "\u00f5", 0xE3: "\u00f3", 0xE4: "\u1ecd", 0xE5: "\u1ed3",
    0xE6: "\u1ed5", 0xE7: "\u1ed7", 0xE8: "\u1ed1", 0xE9: "\u1ed9", 0xEA: "\u1edd", 0xEB: "\u1edf",
    0xEC: "\u1ee1", 0xED: "\u1edb", 0xEE: "\u1ee3", 0xEF: "\u00f9", 0xF0: "\u1ed6", 0xF1: "\u1ee7",
    0xF2: "\u0169", 0xF3: "\u00fa", 0xF4: "\u1ee5", 0xF5: "\u1eeb", 0xF6: "\u1eed", 0xF7: "\u1eef",
    0xF8: "\u1ee9", 0xF9: "\u1ef1", 0xFA: "\u1ef3", 0xFB: "\u1ef7", 0xFC: "\u1ef9", 0xFD: "\u00fd",
    0xFE: "\u1ef5", 0xFF: "\u1ed0",
}

# VNI-Windows: Unicode letter -> its bytes (a base letter, or a letter followed by one mark byte).
VNI = {
    "\u00c0": b'A\xd8', "\u00c1": b'A\xd9', "\u00c2": b'A\xc2', "\u00c3": b'A\xd5', "\u00c8": b'E\xd8',
    "\u00c9": b'E\xd9', "\u00ca": b'E\xc2', "\u00cc": b'\xcc', "\u00cd": b'\xcd', "\u00d2": b'O\xd8',
    "\u00d3": b'O\xd9', "\u00d4": b'O\xc2', "\u00d5": b'O\xd5', "\u00d9": b'U\xd8', "\u00da": b'U\xd9',
    "\u00dd": b'Y\xd9', "\u00e0": b'a\xf8', "\u00e1": b'a\xf9', "\u00e2": b'a\xe2', "\u00e3": b'a\xf5',
    "\u00e8": b'e\xf8', "\u00e9": b'e\xf9', "\u00ea": b'e\xe2', "\u00ec": b'\xec', "\u00ed": b'\xed',
    "\u00f2": b'o\xf8', "\u00f3": b'o\xf9', "\u00f4": b'o\xe2', "\u00f5": b'o\xf5', "\u00f9": b'u\xf8',
    "\u00fa": b'u\xf9', "\u00fd": b'y\xf9', "\u0102": b'A\xca', "\u0110": b'\xd1', "\u0128": b'\xd3',
    "\u0168": b'U\xd5', "\u01a0": b'\xd4', "\u01af": b'\xd6', "\u0103": b'a\xea', "\u0111": b'\xf1',
    "\u0129": b'\xf3', "\u0169": b'u\xf5', "\u01a1": b'\xf4', "\u01b0": b'\xf6', "\u1ea0": b'A\xcf',
    "\u1ea2": b'A\xdb', "\u1ea4": b'A\xc1', "\u1ea6": b'A\xc0', "\u1ea8": b'A\xc5', "\u1eaa": b'A\xc3',
    "\u1eac": b'A\xc4', "\u1eae": b'A\xc9', "\u1eb0": b'A\xc8', "\u1eb2": b'A\xda', "\u1eb4": b'A\xdc',
    "\u1eb6": b'A\xcb', "\u1eb8": b'E\xcf', "\u1eba": b'E\xdb', "\u1ebc": b'E\xd5', "\u1ebe": b'E\xc1',
    "\u1ec0": b'E\xc0', "\u1ec2": b'E\xc5', "\u1ec4": b'E\xc3', "\u1ec6": b'E\xc4', "\u1ec8": b'\xc6',
    "\u1eca": b'\xd2', "\u1ecc": b'O\xcf', "\u1ece": b'O\xdb', "\u1ed0": b'O\xc1', "\u1ed2": b'O\xc0',
    "\u1ed4": b'O\xc5', "\u1ed6": b'O\xc3', "\u1ed8": b'O\xc4', "\u1eda": b'\xd4\xd9', "\u1edc": b'\xd4\xd8',
    "\u1ede": b'\xd4\xdb', "\u1ee0": b'\xd4\xd5', "\u1ee2": b'\xd4\xcf', "\u1ee4": b'U\xcf',
    "\u1ee6": b'U\xdb', "\u1ee8": b'\xd6\xd9', "\u1eea": b'\xd6\xd8', "\u1eec": b'\xd6\xdb',
    "\u1eee": b'\xd6\xd5', "\u1ef0": b'\xd6\xcf', "\u1ef2": b'Y\xd8', "\u1ef4": b'\xce', "\u1ef6": b'Y\xdb',
    "\u1ef8": b'Y\xd5', "\u1ea1": b'a\xef', "\u1ea3": b'a\xfb', "\u1ea5": b'a\xe1', "\u1ea7": b'a\xe0',
    "\u1ea9": b'a\xe5', "\u1eab": b'a\xe3', "\u1ead": b'a\xe4', "\u1eaf": b'a\xe9', "\u1eb1": b'a\xe8',
    "\u1eb3": b'a\xfa', "\u1eb5": b'a\xfc', "\u1eb7": b'a\xeb', "\u1eb9": b'e\xef', "\u1ebb": b'e\xfb',
    "\u1ebd": b'e\xf5', "\u1ebf": b'e\xe1', "\u1ec1": b'e\xe0', "\u1ec3": b'e\xe5', "\u1ec5": b'e\xe3',
    "\u1ec7": b'e\xe4', "\u1ec9": b'\xe6', "\u1ecb": b'\xf2', "\u1ecd": b'o\xef', "\u1ecf": b'o\xfb',
    "\u1ed1": b'o\xe1', "\u1ed3": b'o\xe0', "\u1ed5": b'o\xe5', "\u1ed7": b'o\xe3', "\u1ed9": b'o\xe4',
    "\u1edb": b'\xf4\xf9', "\u1edd": b'\xf4\xf8', "\u1edf": b'\xf4\xfb', "\u1ee1": b'\xf4\xf5',
    "\u1ee3": b'\xf4\xef', "\u1ee5": b'u\xef', "\u1ee7": b'u\xfb', "\u1ee9": b'\xf6\xf9',
    "\u1eeb": b'\xf6\xf8', "\u1eed": b'\xf6\xfb', "\u1eef": b'\xf6\xf5', "\u1ef1": b'\xf6\xef',
    "\u1ef3": b'y\xf8', "\u1ef5": b'\xee', "\u1ef7": b'y\xfb', "\u1ef9": b'y\xf5',
}
