"""Server-side settings of `make lab` (imported by JupyterLab's server, see scripts/lab.py).

A live slider sends its key press to the kernel and gets the new picture back.
jupyter_server leaves Nagle's algorithm on for the kernel's websocket, so a
small message (the slider's echo, the kernel's status) followed by the picture
waits for the browser's delayed acknowledgement, about 40 ms, on every move.
Setting TCP_NODELAY on the websocket sends each message at once.
"""
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection


class NoDelayWebsocketConnection(ZMQChannelsWebsocketConnection):
    """The kernel websocket connection of jupyter_server, with TCP_NODELAY set."""

    def connect(self):
        self.websocket_handler.set_nodelay(True)
        return super().connect()
