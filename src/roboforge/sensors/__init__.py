"""Sensors mounted on scene entities: contact (forces, air time), IMU and cameras (RGB, depth)."""

from roboforge.sensors.base import Sensor, SensorCfg
from roboforge.sensors.camera import CameraData, CameraSensor, CameraSensorCfg
from roboforge.sensors.contact_sensor import ContactSensor, ContactSensorCfg, ContactSensorData
from roboforge.sensors.imu import Imu, ImuCfg

__all__ = [
    "CameraData",
    "CameraSensor",
    "CameraSensorCfg",
    "ContactSensor",
    "ContactSensorCfg",
    "ContactSensorData",
    "Imu",
    "ImuCfg",
    "Sensor",
    "SensorCfg",
]
