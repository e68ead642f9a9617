"""The few classes we use from troposphere's largest service modules, defined without importing those modules.

troposphere.quicksight and troposphere.sagemaker define about 1,900 classes between them; executing them
cost generate.py ~15 ms, as much as the rest of its imports, for five classes. Each module here holds
troposphere's own definitions of those classes (same name, resource type and property types; unused
optional properties left out) and hands any other name to troposphere's module, so a new resource still
works, only slower to import. tests/test_slim_classes_match_troposphere.py checks every definition against troposphere's.
"""
