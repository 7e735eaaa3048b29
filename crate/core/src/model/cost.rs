//! Parameter and multiply-accumulate counts, computed from a configuration.

use super::config::{AttentionKind, BackboneConfig, LeDiFlowConfig};

/// Counts for one forward pass of one image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Cost {
    pub params: u64,
    pub macs: u64,
}

/// Parameters and MACs of a backbone on an input of side `side`.
pub fn backbone_cost(config: &BackboneConfig, side: usize) -> Cost {
    let mut params = 0u64;
    let mut macs = 0u64;
    let mut linear = |d_in: usize, d_out: usize, tokens: usize| {
        params += (d_in * d_out) as u64;
        macs += (d_in * d_out * tokens) as u64;
    };
    let levels = &config.levels;
    let n = levels.len();
    let cond = config.mapping.as_ref().map(|m| m.width);
    let mut grid = side / config.patch_in;
    let grids: Vec<usize> = (0..n).map(|i| grid >> i).collect();
    linear(config.in_channels * config.patch_in * config.patch_in, levels[0].width, grid * grid);
    if let Some(m) = &config.mapping {
        linear(m.width, m.width, 1);
        for _ in 0..m.depth {
            linear(m.width, 2 * m.d_ff, 1);
            linear(m.d_ff, m.width, 1);
        }
    }
    let mut attention_macs = 0u64;
    let mut norm_params = 0u64;
    // Down levels and the bottleneck once, the up levels a second time.
    let passes: Vec<usize> = (0..n).chain(0..n - 1).collect();
    for &i in &passes {
        let l = &levels[i];
        let g = grids[i];
        let tokens = g * g;
        for _ in 0..l.depth {
            if let Some(c) = cond {
                linear(c, l.width, 1);
                linear(c, l.width, 1);
            }
            linear(l.width, 3 * l.width, tokens);
            linear(l.width, l.width, tokens);
            linear(l.width, 2 * l.d_ff, tokens);
            linear(l.d_ff, l.width, tokens);
            norm_params += (l.width / l.d_head.min(l.width)).max(1) as u64;
            let keys = match l.attention {
                AttentionKind::Global => tokens,
                AttentionKind::Window { size } => size.min(g).pow(2),
            };
            attention_macs += 2 * (tokens * keys * l.width) as u64;
        }
    }
    for i in 0..n - 1 {
        linear(4 * levels[i].width, levels[i + 1].width, grids[i + 1] * grids[i + 1]);
        linear(levels[i + 1].width, 4 * levels[i].width, grids[i + 1] * grids[i + 1]);
        norm_params += 1;
    }
    grid = grids[0];
    linear(levels[0].width, config.out_channels * config.patch_out * config.patch_out, grid * grid);
    let mapping_norms = config.mapping.as_ref().map_or(0, |m| (m.width * (2 + m.depth)) as u64);
    Cost { params: params + norm_params + levels[0].width as u64 + mapping_norms, macs: macs + attention_macs }
}

/// (name, cost) for each network of a model at its image size.
pub fn model_costs(config: &LeDiFlowConfig) -> Vec<(&'static str, Cost)> {
    let side = config.image_size;
    let z = config.latent_side(side);
    vec![
        ("encoder", backbone_cost(&config.encoder, side)),
        ("decoder", backbone_cost(&config.decoder, z * config.decoder_z_upsample)),
        ("latent", backbone_cost(&config.latent_sampler, z)),
        ("flow", backbone_cost(&config.flow, side)),
    ]
}
