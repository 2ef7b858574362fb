#!/usr/bin/env python3
"""Adds the app-server vectors to tests/data/doc-vectors.json (idempotent: replaces what it wrote before).

- doc_vectors.ugc_upload_signature: client-upload signatures Tencent printed in its documentation, decoded.
- generated_vectors.ugc_upload_signature: signatures computed the way Tencent's published sample code does it
  (Python `urllib.parse.urlencode` over the parameters in order, HMAC-SHA1, raw digest + original, Base64), and
  the same parameters encoded by Node's `querystring.stringify` (the doc's Node sample) when `node` is installed.
- generated_vectors.callback_sign: Sign = MD5(SignKey + str(T)) as documented for ModifyEventConfig.SignKey.
- response_fixtures: the PullComplete normal-callback example.

Only the standard library is used. Run: python3 tests/data/compute_app_vectors.py
"""
import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.path.join(HERE, "doc-vectors.json")

SIGN_DOC = "https://cloud.tencent.com/document/product/266/9221"
SAMPLES_DOC = "https://cloud.tencent.com/document/product/266/10276"
DEMO_DOC = ("Tencent VOD 'Web 上传 Demo' deployment guide (cloud.tencent.com/document/product/266, text in "
            "tencentyun/qcloud-documents), section 上传签名派发: '如果服务正常，则返回上传签名，签名示例如下'")


def sign_python(params, key):
    original = urlencode([tuple(p) for p in params])
    digest = hmac.new(key.encode(), original.encode(), hashlib.sha1).digest()
    return original, base64.b64encode(digest + original.encode()).decode()


def sign_node(params, key):
    """The doc's Node sample: querystring.stringify, then the same HMAC and Base64."""
    if shutil.which("node") is None:
        return None
    script = (
        "const qs=require('querystring'),c=require('crypto');"
        "const [p,k]=JSON.parse(process.argv[1]);"
        "const o=qs.stringify(Object.fromEntries(p));const b=Buffer.from(o,'utf8');"
        "const h=c.createHmac('sha1',k).update(b).digest();"
        "process.stdout.write(JSON.stringify([o,Buffer.concat([h,b]).toString('base64')]));"
    )
    out = subprocess.run(["node", "-e", script, json.dumps([params, key])], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


CASES = [
    {
        "id": "ugc-sign-required-only",
        "note": "the four required parameters",
        "secret_key": "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        "params": [["secretId", "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"], ["currentTimeStamp", "1700000000"],
                   ["expireTime", "1700086400"], ["random", "1234567890"]],
    },
    {
        "id": "ugc-sign-demo-shape",
        "note": "the parameters of the demo's published signature, plus a sourceContext with a space, JSON and CJK",
        "secret_key": "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        "params": [["secretId", "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"], ["currentTimeStamp", "1588588023"],
                   ["expireTime", "1588588623"], ["random", "150778"], ["classId", "0"], ["oneTimeValid", "0"],
                   ["vodSubAppId", "0"], ["sourceContext", "{\"uid\":\"u 1\",\"课程\":\"7\"}"]],
    },
    {
        "id": "ugc-sign-every-parameter",
        "note": "every documented parameter, in the crate's order; values with '+', '&', '=', '/', '~', '*', space",
        "secret_key": "x9/+=Key with spaces & symbols",
        "params": [["secretId", "AKIDexample0000000000000000000000000"], ["currentTimeStamp", "1700000000"],
                   ["expireTime", "1707776000"], ["random", "4294967295"], ["classId", "12"],
                   ["oneTimeValid", "1"], ["vodSubAppId", "1500000001"], ["sourceContext", "user=42&course=7"],
                   ["procedure", "LongVideoPreset"], ["taskPriority", "-10"], ["taskNotifyMode", "Change"],
                   ["sessionContext", "a+b c/d~e*f'(g)!"], ["storageRegion", "ap-chongqing"]],
    },
]

PUBLISHED = "VYapc9EYdoZLzGx0CglRW4N6kuhzZWNyZXRJZD1BS0lEZk5xMzl6dG5tYW1tVzBMOXFvZERia25hUjdZa0xPM1UmY3VycmVudFRpbWVTdGFtcD0xNTg4NTg4MDIzJmV4cGlyZVRpbWU9MTU4ODU4ODYyMyZyYW5kb209MTUwNzc4JmNsYXNzSWQ9MCZvbmVUaW1lVmFsaWQ9MCZ2b2RTdWJBcHBJZD0w"

PULL_COMPLETE = {
    "EventType": "PullComplete",
    "PullCompleteEvent": {
        "TaskId": "125676836723-Pull-f5ac8127b3b6b85cdc13f237c6005d8",
        "Status": "FINISH",
        "ErrCode": 0,
        "Message": "SUCCESS",
        "FileId": "14508071098244959037",
        "MediaBasicInfo": {
            "Name": "动物世界",
            "Description": "",
            "CreateTime": "2019-01-09T16:36:22Z",
            "UpdateTime": "2019-01-09T16:36:24Z",
            "ExpireTime": "9999-12-31T23:59:59Z",
            "ClassId": 0,
            "ClassName": "其他",
            "ClassPath": "其他",
            "CoverUrl": "",
            "Type": "mp4",
            "MediaUrl": "http://125676836723.vod2.myqcloud.com/xxx/xxx/xxx.mp4",
            "TagSet": [],
            "StorageRegion": "ap-chongqing",
            "SourceInfo": {"SourceType": "Upload", "SourceContext": ""},
            "Vid": "",
        },
        "FileUrl": "http://125676836723.vod2.myqcloud.com/xxx/xxx/xxx.mp4",
        "ProcedureTaskId": "",
        "ReviewAudioVideoTaskId": "",
        "SessionContext": "",
        "SessionId": "",
    },
}


def main():
    with open(PATH, encoding="utf-8") as f:
        doc = json.load(f)

    raw = base64.b64decode(PUBLISHED)
    original = raw[20:].decode()
    fields = [kv.split("=", 1) for kv in original.split("&")]
    doc["doc_vectors"]["ugc_upload_signature"] = [{
        "id": "doc-ugc-sign-web-upload-demo",
        "source": {
            "kind": "docs",
            "url": DEMO_DOC,
            "note": "Output of Tencent's signing service demo (vod-server-demo web_upload_scf/ugc_upload_sign, "
                    "Python urlencode). The SecretKey is not published, so only the structure and the plaintext "
                    "can be checked: decode it, and rebuild `original` from the decoded fields byte for byte.",
        },
        "verified_by_recomputation": False,
        "signature": PUBLISHED,
        "expected": {"hmac_sha1_hex": raw[:20].hex(), "original": original, "fields": fields},
    }]

    gen = doc.setdefault("generated_vectors", {})
    out = []
    for case in CASES:
        params = case["params"]
        original, signature = sign_python(params, case["secret_key"])
        entry = {
            "id": case["id"],
            "source": {
                "kind": "generated",
                "url": SAMPLES_DOC,
                "note": case["note"] + "; computed like Tencent's sample code (Python urlencode), "
                        "tests/data/compute_app_vectors.py",
            },
            "inputs": {"secret_key": case["secret_key"], "params": params},
            "expected": {"original": original, "signature": signature},
        }
        node = sign_node(params, case["secret_key"])
        if node is not None:
            entry["expected"]["node_querystring"] = {"original": node[0], "signature": node[1]}
        out.append(entry)
    gen["ugc_upload_signature"] = out

    sign_cases = [("Key123", 1700000600), ("abcDEF0123456789abcDEF0123456789", 1588588623), ("k", 1)]
    gen["callback_sign"] = [{
        "id": f"callback-sign-{i}",
        "source": {"kind": "generated",
                   "url": "https://www.tencentcloud.com/document/api/266/57589 (ModifyEventConfig.SignKey)",
                   "note": "Sign = MD5(SignKey + T), lower-case hex; hashlib.md5"},
        "inputs": {"sign_key": k, "t": t},
        "expected": {"sign": hashlib.md5((k + str(t)).encode()).hexdigest()},
    } for i, (k, t) in enumerate(sign_cases)]

    fixtures = [f for f in doc["response_fixtures"] if f.get("id") != "vod-event-pullcomplete-http-callback-v3"]
    fixtures.append({
        "id": "vod-event-pullcomplete-http-callback-v3",
        "source": "docs: 事件通知 URL 拉取视频上传完成 (PullComplete) 普通回调 body "
                  "(https://cloud.tencent.com/document/product/266/7831); null fields omitted",
        "body": PULL_COMPLETE,
    })
    doc["response_fixtures"] = fixtures

    schema = doc["schema"]
    schema["ugc_upload_signature"] = (
        "doc_vectors: a published signature string with the fields it decodes to (hmac not checkable: key unpublished). "
        "generated_vectors: inputs{secret_key, params[[name, value]...] in emission order} -> expected{original "
        "(Python urlencode), signature = Base64(HMAC-SHA1(key, original) || original), node_querystring{original, "
        "signature} (same params through Node's querystring.stringify: %20 for space, !'()* kept)}.")
    schema["callback_sign"] = "inputs{sign_key, t} -> expected{sign = lower-case hex MD5(sign_key + decimal t)}."

    with open(PATH, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
    print("updated", PATH)


if __name__ == "__main__":
    main()
