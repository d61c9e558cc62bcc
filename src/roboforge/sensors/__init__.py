"""Sensors mounted on scene entities: contact (forces, air time) and IMU."""

from roboforge.sensors.base import Sensor, SensorCfg
from roboforge.sensors.contact_sensor import ContactSensor, ContactSensorCfg, ContactSensorData
from roboforge.sensors.imu import Imu, ImuCfg

__all__ = ["ContactSensor", "ContactSensorCfg", "ContactSensorData", "Imu", "ImuCfg", "Sensor", "SensorCfg"]
