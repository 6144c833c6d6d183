"""The server topology: the DR servicer protocol in its two shapes, with JSON Schemas.

* OpenADR 3 (the device polls us): :mod:`drready.servicer.openadr_server` is the harness's DR
  servicer (a VTN); :mod:`drready.servicer.openadr_ven` is a VEN client the reference devices use.
* ECHONET Lite Web API (we call the maker's cloud): :mod:`drready.servicer.webapi_client`.
"""
