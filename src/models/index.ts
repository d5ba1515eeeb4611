/** The model zoo: LeNet-5, AlexNet, VGG-11/16 (BN), ResNet-20/18, DenseNet-BC, MobileNetV2, built as ONNX graphs. */
export type { ZooOptions, ConvOptions, ArchBody } from './net.js';
export { ZOO_METADATA, NetBuilder, buildNet, checkZooOptions } from './net.js';
export type { Arch } from './zoo.js';
export { ARCHS, buildModel, isArch } from './zoo.js';
export { lenet5 } from './lenet.js';
export { alexnet } from './alexnet.js';
export type { VggDepth, VggOptions } from './vgg.js';
export { vgg, vgg11, vgg16 } from './vgg.js';
export { resnet18, resnet20 } from './resnet.js';
export { densenet } from './densenet.js';
export { mobilenetv2 } from './mobilenetv2.js';
export { kaimingNormalFanOut, linearDefault } from './init.js';
