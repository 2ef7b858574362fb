#!/usr/bin/env python3
"""Uploads a file with Tencent's official Python VOD upload SDK (PyPI `vod-python-sdk`, `qcloud_vod`) through a
local mock server. Run by tests/python_sdk.rs; prints one JSON line {"FileId", "MediaUrl"} on success.

The SDK has no endpoint settings: `VodUploadClient.upload` builds `vod_client.VodClient(cred, region)` (host
vod.tencentcloudapi.com, https) and `CosConfig(Region=…, SecretId=…, SecretKey=…, Token=…)`
({bucket}.cos.{region}.myqcloud.com, https). This script wraps both constructors, changing only where they
connect:

- VOD: a ClientProfile with HttpProfile(endpoint=<mock VOD host:port>, protocol="http");
- COS, --style virtual: CosConfig(IP=127.0.0.1, Port=<mock COS port>, Scheme="http"): the SDK sends and signs
  `Host: {bucket}.cos.{region}.myqcloud.com` (virtual-host addressing);
- COS, --style path: CosConfig(Domain="127.0.0.1:<port>/{bucket}", Scheme="http"): requests go to
  http://127.0.0.1:<port>/{bucket}/{key}; the SDK signs the path `/{key}` and the host `127.0.0.1` (urlparse
  hostname, without the port) while sending `Host: 127.0.0.1:<port>`.

Arguments: --vod HOST:PORT --cos-port PORT --region R --secret-id ID --secret-key KEY --style virtual|path
           --file PATH [--procedure NAME]
"""
import argparse
import json
import sys

from qcloud_cos import CosConfig
from qcloud_vod import vod_upload_client
from qcloud_vod.model import VodUploadRequest
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vod.v20180717 import vod_client


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vod", required=True)
    p.add_argument("--cos-port", required=True, type=int)
    p.add_argument("--region", required=True)
    p.add_argument("--secret-id", required=True)
    p.add_argument("--secret-key", required=True)
    p.add_argument("--style", required=True, choices=["virtual", "path"])
    p.add_argument("--file", required=True)
    p.add_argument("--procedure")
    a = p.parse_args()

    real_vod_client = vod_client.VodClient
    applied = {}

    def mock_vod_client(cred, region, profile=None):
        return real_vod_client(cred, region, ClientProfile(httpProfile=HttpProfile(endpoint=a.vod, protocol="http")))

    real_apply = vod_upload_client.VodUploadClient.apply_upload

    def recording_apply(self, api_client, request):
        rsp = real_apply(self, api_client, request)
        applied["bucket"] = rsp.StorageBucket
        return rsp

    def mock_cos_config(**kw):
        kw["Scheme"] = "http"
        if a.style == "virtual":
            kw["IP"] = "127.0.0.1"
            kw["Port"] = a.cos_port
        else:
            kw["Domain"] = "127.0.0.1:%d/%s" % (a.cos_port, applied["bucket"])
        return CosConfig(**kw)

    vod_upload_client.vod_client.VodClient = mock_vod_client
    vod_upload_client.VodUploadClient.apply_upload = recording_apply
    vod_upload_client.CosConfig = mock_cos_config

    client = vod_upload_client.VodUploadClient(a.secret_id, a.secret_key)
    req = VodUploadRequest()
    req.MediaFilePath = a.file
    if a.procedure:
        req.Procedure = a.procedure
    rsp = client.upload(a.region, req)
    print(json.dumps({"FileId": rsp.FileId, "MediaUrl": rsp.MediaUrl}))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line for the Rust test's failure message
        print("python SDK upload failed: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
