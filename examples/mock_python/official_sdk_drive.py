"""Drive the official vod-python-sdk against the mock: only endpoints are changed (monkeypatched constructors)."""
import json, os, sys, logging
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vod.v20180717 import vod_client
import qcloud_vod.vod_upload_client as vuc
from qcloud_vod.vod_upload_client import VodUploadClient
from qcloud_vod.model import VodUploadRequest
import qcloud_cos

info = json.loads(sys.argv[1])
vod_host = info["vod_endpoint"].replace("http://", "")
cos_proxy = info["cos_endpoint"]

class PatchedVodClient(vod_client.VodClient):
    def __init__(self, cred, region, profile=None):
        super().__init__(cred, region, ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=vod_host)))

orig_cfg = qcloud_cos.CosConfig
def PatchedCosConfig(**kw):
    kw["Scheme"] = "http"
    kw["Proxies"] = {"http": cos_proxy}
    return orig_cfg(**kw)

vuc.vod_client.VodClient = PatchedVodClient
vuc.CosConfig = PatchedCosConfig

client = VodUploadClient(info["secret_id"], info["secret_key"])
for (media, cover, mtype) in [(sys.argv[2], sys.argv[3], None), (sys.argv[4], None, None), (sys.argv[5], None, None)]:
    req = VodUploadRequest()
    req.MediaFilePath = media
    if cover:
        req.CoverFilePath = cover
    req.Procedure = "LongVideoPreset"
    req.ConcurrentUploadNumber = 3
    rsp = client.upload("ap-guangzhou", req)
    print("OK", media, rsp.FileId, rsp.MediaUrl, rsp.CoverUrl)
