"""`python -m jupyter kernelgateway` inside the emulator's docker-stacks image.

Jupyter Kernel Gateway cannot be installed here, but Jupyter Server serves the same kernel API.
This starts Jupyter Server with the gateway's configuration (KG_PORT, KG_IP, KG_AUTH_TOKEN,
KG_LIST_KERNELS and the matching --KernelGatewayApp/--JupyterWebsocketPersonality flags; the
--MappingKernelManager flags, culling idle kernels, are the same class in both) and the
gateway's answers where they differ: 401 for a missing or wrong token, and 403 for listing
kernels unless list_kernels is on.
"""
import os
import sys

from tornado import web
from jupyter_server.base import zmqhandlers
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.serverapp import ServerApp
from jupyter_server.services.kernels import handlers as kernel_handlers


def flag(name, default=None):
    for arg in sys.argv[1:]:
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1].strip("\"'")
    return default


def truthy(value):
    return str(value).lower() in ("1", "true", "yes")


# As in the gateway, a command-line flag overrides its environment variable (the default).
port = flag("KernelGatewayApp.port") or os.environ.get("KG_PORT") or "8888"
ip = flag("KernelGatewayApp.ip") or os.environ.get("KG_IP") or "127.0.0.1"
token = flag("KernelGatewayApp.auth_token") or os.environ.get("KG_AUTH_TOKEN") or ""
list_kernels = truthy(flag("JupyterWebsocketPersonality.list_kernels") or os.environ.get("KG_LIST_KERNELS") or "false")


def get_login_url(self):
    if not self.current_user:
        raise web.HTTPError(401)
    return JupyterHandler.get_login_url(self)


APIHandler.get_login_url = get_login_url

original_pre_get = zmqhandlers.AuthenticatedZMQStreamHandler.pre_get


def pre_get(self):
    if self.get_current_user() is None:
        raise web.HTTPError(401)
    return original_pre_get(self)


zmqhandlers.AuthenticatedZMQStreamHandler.pre_get = pre_get

original_list = kernel_handlers.MainKernelHandler.get


async def list_kernels_handler(self):
    if not list_kernels:
        raise web.HTTPError(403)
    return await original_list(self)


kernel_handlers.MainKernelHandler.get = list_kernels_handler

home = os.environ.get("HOME", "/tmp")
for key, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_DATA_DIR", "data"), ("JUPYTER_CONFIG_DIR", "config")):
    os.environ.setdefault(key, os.path.join(home, ".jupyter-gateway", sub))

ServerApp.launch_instance(argv=[
    f"--ServerApp.ip={ip}",
    f"--ServerApp.port={port}",
    "--ServerApp.port_retries=0",
    f"--ServerApp.token={token}",
    "--ServerApp.password=",
    "--ServerApp.open_browser=False",
    "--ServerApp.allow_root=True",
    "--ServerApp.disable_check_xsrf=True",
    f"--ServerApp.root_dir={os.getcwd()}",
    *[arg for arg in sys.argv[1:] if arg.startswith("--MappingKernelManager.")],
])
