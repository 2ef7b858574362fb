#!/usr/bin/env python3
"""Independent reference implementation (stdlib hmac/hashlib only) of the TC3, v1 and COS signatures.

It computed the literal expected values of the edge-case tests in tests/signing_vectors.rs. It first checks
itself against the published doc vectors in tests/data/doc-vectors.json, then prints the edge-case values.
Run: python3 tests/data/compute_edge_vectors.py
"""
import base64
import datetime
import hashlib
import hmac
import json
import os
from urllib.parse import quote


def sha256_hex(b):
    return hashlib.sha256(b).hexdigest()


def hm256(k, m):
    return hmac.new(k, m, hashlib.sha256).digest()


def tc3(secret_id, secret_key, method, query, headers, payload, service, ts, unsigned=False):
    date = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%d")
    hp = sha256_hex(b"UNSIGNED-PAYLOAD" if unsigned else payload)
    hs = sorted((k.strip().lower(), v.strip().lower()) for k, v in headers)
    ch = "".join(f"{k}:{v}\n" for k, v in hs)
    sh = ";".join(k for k, _ in hs)
    cr = f"{method.upper()}\n/\n{query}\n{ch}\n{sh}\n{hp}"
    hcr = sha256_hex(cr.encode())
    scope = f"{date}/{service}/tc3_request"
    sts = f"TC3-HMAC-SHA256\n{ts}\n{scope}\n{hcr}"
    k = hm256(("TC3" + secret_key).encode(), date.encode())
    k = hm256(k, service.encode())
    k = hm256(k, b"tc3_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    auth = f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders={sh}, Signature={sig}"
    return dict(date=date, hashed_request_payload=hp, canonical_request=cr, signed_headers=sh,
                string_to_sign=sts, signature=sig, authorization=auth)


def v1(secret_key, alg, method, host, path, params):
    sts = method.upper() + host + path + "?" + "&".join(
        f"{k}={params[k]}" for k in sorted(params, key=lambda s: s.encode()))
    h = hashlib.sha1 if alg == "HmacSHA1" else hashlib.sha256
    return sts, base64.b64encode(hmac.new(secret_key.encode(), sts.encode(), h).digest()).decode()


def cos_enc(s):
    return quote(s, safe="-_.~")


def cos(secret_id, secret_key, key_time, method, path, query, headers):
    sign_key = hmac.new(secret_key.encode(), key_time.encode(), hashlib.sha1).hexdigest()

    def pairs(d):
        e = sorted((cos_enc(k).lower(), cos_enc(v)) for k, v in d)
        return ";".join(k for k, _ in e), "&".join(f"{k}={v}" for k, v in e)

    upl, hp = pairs(query)
    hl, hh = pairs(headers)
    hs = f"{method.lower()}\n{path}\n{hp}\n{hh}\n"
    sha = hashlib.sha1(hs.encode()).hexdigest()
    sts = f"sha1\n{key_time}\n{sha}\n"
    sig = hmac.new(sign_key.encode(), sts.encode(), hashlib.sha1).hexdigest()
    auth = (f"q-sign-algorithm=sha1&q-ak={secret_id}&q-sign-time={key_time}&q-key-time={key_time}"
            f"&q-header-list={hl}&q-url-param-list={upl}&q-signature={sig}")
    return dict(sign_key=sign_key, url_param_list=upl, http_parameters=hp, header_list=hl, http_headers=hh,
                http_string=hs, sha1_http_string=sha, signature=sig, authorization=auth)


def self_check():
    here = os.path.dirname(os.path.abspath(__file__))
    d = json.load(open(os.path.join(here, "doc-vectors.json"), encoding="utf-8"))["doc_vectors"]
    for v in d["tc3"]:
        i = v["inputs"]
        hs = [(n, i["signed_header_values"][n]) for n in i["signed_header_names"]]
        r = tc3(i["secret_id"], i["secret_key"], i["http_method"], i["canonical_query_string"], hs,
                i["body"].encode(), i["service"], i["timestamp"])
        assert r["signature"] == v["expected"]["signature"], v["id"]
    for v in d["v1"]:
        i = v["inputs"]
        _, s = v1(i["secret_key"], i["sign_method"], i["http_method"], i["host"], i["path"], i["params"])
        assert s == v["expected"]["signature"], v["id"]
    for v in d["cos"]:
        i = v["inputs"]
        r = cos(i["secret_id"], i["secret_key"], i["key_time"], i["http_method"], i["uri_pathname_for_signing"],
                list(i["query_params"].items()), list(i["signed_headers"].items()))
        assert r["signature"] == v["expected"]["signature"], v["id"]


SID = "AKIDEdgeCaseExampleSecretId0000000000"
SKEY = "EdgeCaseExampleSecretKey00000000"
HOST = "vod.tencentcloudapi.com"
CT = "application/json"
BODY = b'{"MediaType":"mp4"}'


def std_headers(action="applyupload", host=HOST, ct=CT):
    return [("content-type", ct), ("host", host), ("x-tc-action", action)]


def main():
    self_check()
    print("self-check against doc vectors: ok")
    out = {}
    # UTC midnight boundary and a timestamp that is already the next day in UTC+8.
    for name, ts in [("utc_235959", 1704067199), ("utc_000000", 1704067200), ("cst_next_day", 1704038400)]:
        out[name] = tc3(SID, SKEY, "POST", "", std_headers(), BODY, "vod", ts)
    # Non-ASCII body: raw UTF-8 vs \u escapes.
    out["utf8_raw"] = tc3(SID, SKEY, "POST", "", std_headers(), '{"MediaName":"测试视频"}'.encode(), "vod",
                          1700000000)
    out["utf8_escaped"] = tc3(SID, SKEY, "POST", "", std_headers(),
                              b'{"MediaName":"\\u6d4b\\u8bd5\\u89c6\\u9891"}', "vod", 1700000000)
    # GET with a query string (form content type, empty payload).
    out["get_query"] = tc3(SID, SKEY, "GET", "Limit=10&Offset=0&VodSessionKey=a%2Bb%3D",
                           std_headers("commitupload", ct="application/x-www-form-urlencoded"), b"", "vod",
                           1700000000)
    # UNSIGNED-PAYLOAD.
    out["unsigned"] = tc3(SID, SKEY, "POST", "", std_headers(), BODY, "vod", 1700000000, unsigned=True)
    # Mixed-case header names and values.
    out["mixed_case"] = tc3(SID, SKEY, "post", "",
                            [("Content-Type", "Application/JSON"), ("HOST", "VOD.TencentCloudAPI.com"),
                             ("X-TC-Action", "ApplyUpload")], BODY, "vod", 1700000000)
    # v1 HmacSHA256 and an empty parameter value.
    params = {"Action": "ApplyUpload", "Version": "2018-07-17", "Region": "ap-guangzhou",
              "Timestamp": "1700000000", "Nonce": "12345", "SecretId": SID, "SignatureMethod": "HmacSHA256",
              "MediaType": "mp4", "MediaName": "测试 a+b", "ExtInfo": ""}
    out["v1_sha256"] = v1(SKEY, "HmacSHA256", "POST", HOST, "/", params)
    p1 = dict(params)
    p1["SignatureMethod"] = "HmacSHA1"
    out["v1_sha1"] = v1(SKEY, "HmacSHA1", "POST", HOST, "/", p1)
    # COS: Unicode key, UploadPart with an uploadId needing encoding, token, mixed-case headers.
    cos_host = "vodtest-1250000000.cos.ap-guangzhou.myqcloud.com"
    out["cos_unicode_part"] = cos(
        "AKIDtmpExample", "TmpSecretKeyExample", "1700000000;1700003600", "PUT", "/视频/第1集 (final).mp4",
        [("partNumber", "7"), ("uploadId", "1585130821cbb7df+/= x")],
        [("Host", cos_host), ("Content-Length", "1048576"),
         ("X-Cos-Security-Token", "tok+/=en"), ("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==")])
    out["cos_uploads"] = cos(
        "AKIDtmpExample", "TmpSecretKeyExample", "1700000000;1700003600", "POST", "/视频/第1集 (final).mp4",
        [("uploads", "")], [("host", cos_host), ("content-type", "video/mp4")])
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
