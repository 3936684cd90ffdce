#!/usr/bin/env bash
# An image-to-video run on the same clips: wrong frame count for a 1.5 model.
accelerate launch train.py \
    --model_path "THUDM/CogVideoX1.5-5B-I2V" \
    --model_name "cogvideox1.5-i2v" \
    --data_root "../data_i2v" \
    --caption_column "prompts.txt" \
    --video_column "videos.txt" \
    --train_resolution "80x768x1360"
