"""SRTP and SRTCP test vectors from libsrtp (through pylibsrtp, which aiortc
uses), for the unit tests of src/crypto/srtp_tx.rs: an implementation
other than ours and str0m's protects fixed packets with fixed keys.

    tests/interop/.venv/bin/python tests/interop/srtp_vectors.py

prints the Rust constants pasted into that file's tests.
"""
from pylibsrtp import Policy, Session

PROFILES = [
    ("AES128_CM_SHA1_80", Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 16, 14),
    ("AEAD_AES_128_GCM", Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 16, 12),
    ("AEAD_AES_256_GCM", Policy.SRTP_PROFILE_AEAD_AES_256_GCM, 32, 12),
]


def rtp(seq, ext):
    # V=2, X=ext, PT 96, marker on the last, SSRC 0x11223344, timestamp 0xdeadbeef.
    b0 = 0x90 if ext else 0x80
    hdr = bytes([b0, 0xE0]) + seq.to_bytes(2, "big") + (0xDEADBEEF).to_bytes(4, "big") + (0x11223344).to_bytes(4, "big")
    if ext:
        # One-byte extension block: id 1 (len 2) and padding.
        hdr += bytes([0xBE, 0xDE, 0x00, 0x01, 0x11, 0xAB, 0xCD, 0x00])
    payload = bytes((i * 7 + seq) & 0xFF for i in range(41))
    return hdr + payload


def sr():
    # RTCP SR from SSRC 0x11223344, no report blocks.
    return bytes.fromhex("80c80006" "11223344" "e8f0a1b2c3d4e5f6" "deadbeef" "00000010" "00004000")


for name, profile, klen, slen in PROFILES:
    key = bytes(range(1, klen + 1))
    salt = bytes(range(0xA0, 0xA0 + slen))
    session = Session(policy=Policy(key=key + salt, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
    print(f"// {name}: master key {key.hex()}, master salt {salt.hex()}")
    # 65534, 65535, then the wrap to 0 and 1 (rollover counter 1).
    for seq, ext in [(65534, False), (65535, True), (0, True), (1, False)]:
        plain = rtp(seq, ext)
        print(f'("{plain.hex()}", "{session.protect(plain).hex()}"),')
    for _ in range(2):
        print(f'rtcp ("{sr().hex()}", "{session.protect_rtcp(sr()).hex()}"),')
