"""Public SSM parameters that real AWS has and the moto emulator lacks.

Pack templates resolve their images from AWS public SSM parameters (never a
fixed AMI id). moto knows ``/aws/service/ami-amazon-linux-latest/*`` but not,
for example, the Deep Learning AMI parameters, and refuses to let clients
write ``/aws/...`` names. ``seed(account_id, region)`` adds them inside the
emulator's process (the sandbox server and in-process tests), pointing at an
Amazon Linux image the emulator already knows. Imported only where moto runs.
"""

from __future__ import annotations

EXTRA_PUBLIC_PARAMETERS = (
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id",
    "/aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-2.7-amazon-linux-2023/latest/ami-id",
)
STAND_IN = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def seed(account_id: str, region: str) -> None:
    """Make the extra public parameters resolvable in this moto process."""
    from moto.ssm.models import Parameter, ssm_backends

    parameters = ssm_backends[account_id][region]._parameters
    stand_in = parameters[STAND_IN][-1]
    for name in EXTRA_PUBLIC_PARAMETERS:
        if parameters.get(name):
            continue
        # moto marks methods of Parameter's base abstract without ABCMeta: it can be (and is, by moto) instantiated
        parameters[name].append(
            Parameter(  # type: ignore[abstract]
                account_id=account_id,
                name=name,
                value=stand_in.value,
                parameter_type="String",
                description="Seeded by AWS Research Wizard's sandbox (stand-in image)",
                allowed_pattern=None,
                keyid=None,
                last_modified_date=stand_in.last_modified_date,
                version=1,
                data_type="aws:ec2:image",
            )
        )
